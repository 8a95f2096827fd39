"""Write real, installable wheel files (PEP 427) with reproducible bytes."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence

_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class WheelSpec:
    """Name, version, tag and dependencies of one wheel."""

    distribution: str
    version: str
    tag: str
    summary: str
    requires: Sequence[str] = ()

    @property
    def filename(self) -> str:
        return f"{self.distribution}-{self.version}-{self.tag}.whl"

    @property
    def pure(self) -> bool:
        return self.tag.endswith("-none-any")


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def write_wheel(spec: WheelSpec, files: Dict[str, bytes], folder: Path) -> Path:
    """Write ``spec.filename`` into ``folder`` holding ``files`` (archive name -> bytes)."""
    dist_info = f"{spec.distribution}-{spec.version}.dist-info"
    metadata = "\n".join(
        [
            "Metadata-Version: 2.1",
            f"Name: {spec.distribution}",
            f"Version: {spec.version}",
            f"Summary: {spec.summary}",
            "Requires-Python: >=3.8",
            *[f"Requires-Dist: {r}" for r in spec.requires],
            "",
        ]
    )
    wheel = "\n".join(
        [
            "Wheel-Version: 1.0",
            "Generator: h2o_dai_py_scoring_mlflow.samples",
            f"Root-Is-Purelib: {'true' if spec.pure else 'false'}",
            f"Tag: {spec.tag}",
            "",
        ]
    )
    entries = dict(sorted(files.items()))
    entries[f"{dist_info}/METADATA"] = metadata.encode()
    entries[f"{dist_info}/WHEEL"] = wheel.encode()
    records: List[str] = [
        f"{name},{_record_hash(data)},{len(data)}" for name, data in entries.items()
    ]
    records.append(f"{dist_info}/RECORD,,")
    entries[f"{dist_info}/RECORD"] = ("\n".join(records) + "\n").encode()
    path = folder / spec.filename
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return path


def package_files(source: Path, package: str) -> Dict[str, bytes]:
    """The ``.py`` files under ``source`` as archive entries of ``package``."""
    return {
        f"{package}/{path.relative_to(source).as_posix()}": path.read_bytes()
        for path in sorted(source.rglob("*.py"))
        if "__pycache__" not in path.parts
    }
