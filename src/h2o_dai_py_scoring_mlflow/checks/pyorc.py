"""`build_pyorc`: put a pyorc wheel for CPython 3.8 on Linux x86_64 into an export, so that the
logged model ships it instead of excluding pyorc (which builds from source on most hosts).

The wheel is downloaded from the package index when one exists for the version (for 0.9.0 it
does: manylinux2014 x86_64), and built inside the Project's Python 3.8 otherwise. The export's
requirements.txt then names the wheel file instead of the ``pyorc==`` pin. Running it again
changes nothing. A zip export is rewritten with the wheel in it (atomically: a new archive is
renamed over the old one only when complete).
"""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import List, Optional

from ..bridge.launcher import project_environment
from ..errors import CommandError, DaiMlflowError
from ..export.reading import local_path, open_export
from ..export.requirements import canonical_name, parse_requirements
from ..runtime import processes
from ..scratch import scratch_dir
from ..settings import Settings

_PLATFORMS = ("manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64")


class PyorcError(DaiMlflowError):
    """No pyorc wheel could be downloaded or built."""


@dataclass(frozen=True)
class PyorcResult:
    """The wheel now in the export, where it came from, and whether anything changed."""

    wheel: str
    source: str  # "present", "package index" or "built"
    changed: bool


def _present(folder: Path, version: str) -> Optional[Path]:
    for wheel in sorted(folder.glob(f"pyorc-{version}-cp38-*.whl")):
        return wheel
    return None


def _download(python: Path, version: str, target: Path) -> Optional[Path]:
    argv: List[processes.Arg] = [
        python, "-m", "pip", "download", f"pyorc=={version}", "--no-deps",
        "--only-binary=:all:", "--python-version", "3.8", "--implementation", "cp",
        "--abi", "cp38", "--disable-pip-version-check", "-d", target,
    ]  # fmt: skip
    for platform in _PLATFORMS:
        argv += ["--platform", platform]
    try:
        processes.run(argv, timeout=600)
    except CommandError:
        return None
    return next(iter(sorted(target.glob("pyorc-*.whl"))), None)


def _build(python: Path, version: str, target: Path, *, echo: bool) -> Path:
    argv: List[processes.Arg] = [
        python, "-m", "pip", "wheel", f"pyorc=={version}", "--no-deps",
        "--no-binary=pyorc", "--disable-pip-version-check", "-w", target,
    ]  # fmt: skip
    try:
        processes.run(argv, timeout=3600, echo=echo)
    except CommandError as exc:
        raise PyorcError(
            f"No pyorc {version} wheel for CPython 3.8 could be downloaded, and building one "
            f"inside Python 3.8 failed: {exc.output_tail[-600:]}",
            tip="Building pyorc needs a C++ compiler, CMake and network access to fetch ORC; or "
            "pass a --version that has a manylinux wheel (0.9.0 does).",
        ) from exc
    return next(iter(sorted(target.glob("pyorc-*.whl"))))


def _requirements_with(text: str, wheel: str) -> str:
    """requirements.txt with every pyorc line replaced by the wheel's file name."""
    pyorc_lines = {line.line_number for line in parse_requirements(text) if line.name == "pyorc"}
    out: List[str] = []
    placed = False
    for number, line in enumerate(text.splitlines(), start=1):
        if number in pyorc_lines:
            if not placed:
                out.append(wheel)
                placed = True
            continue
        out.append(line)
    if not placed:
        out.append(wheel)
    return "\n".join(out) + "\n"


def _add_to_folder(folder: Path, wheel: Path) -> bool:
    """Copy ``wheel`` into ``folder`` and name it in requirements.txt; False if already so."""
    requirements = folder / "requirements.txt"
    text = requirements.read_text(encoding="utf-8-sig")
    updated = _requirements_with(text, wheel.name)
    changed = updated != text or not (folder / wheel.name).is_file()
    if not (folder / wheel.name).is_file():
        shutil.copy2(wheel, folder / wheel.name)
    if updated != text:
        partial = requirements.with_name(requirements.name + ".dai-mlflow-partial")
        partial.write_text(updated, encoding="utf-8")
        partial.replace(requirements)
    return changed


def _rezip(archive: Path, extracted: Path) -> None:
    partial = archive.with_name(f".{archive.name}.dai-mlflow-partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for path in sorted(p for p in extracted.rglob("*") if p.is_file()):
            out.write(path, path.relative_to(extracted).as_posix())
    partial.replace(archive)


def _wheel_for(settings: Settings, version: str, scratch: Path, *, echo: bool) -> PyorcResult:
    python = project_environment(settings, echo=echo).python
    fetched = scratch / "fetched"
    fetched.mkdir()
    wheel = _download(python, version, fetched)
    if wheel is not None:
        return PyorcResult(str(wheel), "package index", True)
    return PyorcResult(str(_build(python, version, fetched, echo=echo)), "built", True)


def build_pyorc(
    settings: Settings, scoring_dir: str, *, version: str, echo: bool = False
) -> PyorcResult:
    """Put a CPython 3.8 pyorc ``version`` wheel into the export at ``scoring_dir``."""
    location = local_path(scoring_dir)
    with open_export(scoring_dir) as pipeline, scratch_dir("pyorc") as scratch:
        present = _present(pipeline.folder, version)
        if present is not None:
            wheel, source = present, "present"
        else:
            fetched = _wheel_for(settings, version, scratch, echo=echo)
            wheel, source = Path(fetched.wheel), fetched.source
        requirements = (pipeline.folder / "requirements.txt").read_text(encoding="utf-8-sig")
        if source == "present" and _requirements_with(requirements, wheel.name) == requirements:
            return PyorcResult(wheel.name, source, False)
        if location.is_dir():
            changed = _add_to_folder(pipeline.folder, wheel)
        else:
            root = _zip_root(pipeline.folder, pipeline.scorer_wheel.name, location)
            changed = _add_to_folder(pipeline.folder, wheel)
            _rezip(location, root)
        return PyorcResult(wheel.name, source, changed)


def _zip_root(folder: Path, scorer_wheel: str, archive: Path) -> Path:
    """The extracted folder the archive's entries are relative to (the export may sit in a top
    folder of the archive, or at its root)."""
    with zipfile.ZipFile(archive) as bundle:
        entry = next(n for n in bundle.namelist() if PurePosixPath(n).name == scorer_wheel)
    root = folder
    for _ in range(len(PurePosixPath(entry).parts) - 1):
        root = root.parent
    return root


def pyorc_version_of(scoring_dir: str) -> Optional[str]:
    """The pyorc version the export's requirements.txt pins, if any."""
    with open_export(scoring_dir) as pipeline:
        text = (pipeline.folder / "requirements.txt").read_text(encoding="utf-8-sig")
    for line in parse_requirements(text):
        if line.name == canonical_name("pyorc") and "==" in line.text:
            return line.text.split("==", 1)[1].split(";")[0].strip()
    return None
