"""Assemble a synthetic DAI 1.10 Python scoring pipeline export, atomically.

``build_sample(kind, out)`` writes ``out/scoring-pipeline/`` (or ``out/scorer.zip`` holding it)
and ``out/license.sig`` (a demo license the synthetic scorer accepts). Everything is written in
a temporary folder beside ``out`` and moved into place at the end, so a failure leaves nothing.
"""

from __future__ import annotations

import datetime
import gzip
import os
import pickle
import secrets
import shutil
import tempfile
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict

from ..errors import SampleError
from . import fitting, pipeline_files, wheels
from .datasets import make_dataset
from .kinds import KINDS
from .wheel_sources.h2oaicore import licensing

PIPELINE_FOLDER = "scoring-pipeline"
ZIP_NAME = "scorer.zip"
LICENSE_NAME = "license.sig"
MIN_ROWS, MAX_ROWS = 200, 1_000_000
_SOURCES = Path(__file__).resolve().parent / "wheel_sources"
# A real shared library with the soname libopenblas.so.0 (native/openblas_stub.c): the h2oaicore
# wheel installs it into the environment's lib/ folder (wheel data), where conda puts OpenBLAS
# and the dynamic loader does not look.
_OPENBLAS = Path(__file__).resolve().parent / "native" / "libopenblas.so.0"
_KEY_NAMESPACE = uuid.UUID("6f1d3c2e-8b0a-4c55-9e43-1d2b3a4c5d6e")


@dataclass(frozen=True)
class SampleResult:
    """Where the sample export and its demo license were written."""

    kind: str
    pipeline: Path
    license_file: Path
    module: str


def experiment_key(kind: str, rows: int, seed: int) -> str:
    """The experiment UUID with underscores, stable for the same kind, rows and seed."""
    return str(uuid.uuid5(_KEY_NAMESPACE, f"{kind}:{rows}:{seed}")).replace("-", "_")


def demo_license(today: datetime.date, *, days: int = 365) -> str:
    """A license string the synthetic scorer accepts until ``today + days``."""
    return str(
        licensing.encode_license(
            {
                "license_version": "1",
                "serial_number": secrets.token_hex(4),
                "licensee_organization": "Synthetic DAI export (demo only)",
                "licensee_email": "demo@example.invalid",
                "is_h2o_internal_use": "false",
                "created_by_email": "h2o_dai_py_scoring_mlflow",
                "creation_date": today.strftime("%Y/%m/%d"),
                "product": "DriverlessAI",
                "license_type": "demo",
                "expiration_date": (today + datetime.timedelta(days=days)).strftime("%Y/%m/%d"),
            }
        )
    )


def _check_request(kind: str, out: Path, rows: int, force: bool) -> None:
    if kind not in KINDS:
        raise SampleError(
            f"Unknown sample kind {kind!r}.", tip=f"Use --kind with one of: {', '.join(KINDS)}."
        )
    if not MIN_ROWS <= rows <= MAX_ROWS:
        raise SampleError(
            f"--rows {rows} is out of range.", tip=f"Use between {MIN_ROWS} and {MAX_ROWS} rows."
        )
    if out.exists() and not out.is_dir():
        raise SampleError(f"{out} exists and is not a folder.", tip="Choose another --out.")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise SampleError(
            f"{out} already exists and is not empty; nothing was written.",
            tip="Choose an empty or new --out folder, or pass --force to replace its contents.",
        )
    existing = next((p for p in [out.parent, *out.parent.parents] if p.exists()), Path("/"))
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise SampleError(
            f"Cannot write to {existing}: not a writable folder; nothing was written.",
            tip="Choose an --out folder you can write to.",
        )


def build_sample(
    kind: str,
    out: Path,
    *,
    zip_output: bool = False,
    rows: int = 3000,
    seed: int = 1234,
    force: bool = False,
) -> SampleResult:
    """Write a synthetic export of ``kind`` into ``out`` and return where its parts are."""
    out = out.expanduser().absolute()
    _check_request(kind, out, rows, force)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    except OSError as exc:
        raise SampleError(
            f"Cannot write to {out.parent}: {exc.strerror or exc}; nothing was written.",
            tip="Choose an --out folder you can write to.",
        ) from None
    try:
        module = _write_export(kind, staging / PIPELINE_FOLDER, rows=rows, seed=seed)
        if zip_output:
            _zip_folder(staging / PIPELINE_FOLDER, staging / ZIP_NAME)
            shutil.rmtree(staging / PIPELINE_FOLDER)
        license_path = staging / LICENSE_NAME
        license_path.write_text(demo_license(datetime.date.today()) + "\n", encoding="utf-8")
        license_path.chmod(0o600)
        _move_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    pipeline = out / (ZIP_NAME if zip_output else PIPELINE_FOLDER)
    return SampleResult(
        kind=kind, pipeline=pipeline, license_file=out / LICENSE_NAME, module=module
    )


def _move_into_place(staging: Path, out: Path) -> None:
    if not out.exists():
        staging.rename(out)
        return
    backup = out.parent / f".{out.name}.old-{secrets.token_hex(4)}"
    out.rename(backup)
    try:
        staging.rename(out)
    except OSError:
        backup.rename(out)
        raise
    shutil.rmtree(backup)


def _write_export(kind: str, folder: Path, *, rows: int, seed: int) -> str:
    folder.mkdir()
    dataset = make_dataset(kind, rows=rows, seed=seed)
    key = experiment_key(kind, rows, seed)
    model = fitting.fit_model(dataset, experiment_key=key)
    scorer_spec = wheels.WheelSpec(
        f"scoring_h2oai_experiment_{key}",
        "1.0.0",
        "py3-none-any",
        "Driverless AI experiment scorer",
        requires=("h2oaicore",),
    )
    core_spec = wheels.WheelSpec(
        "h2oaicore",
        pipeline_files.DAI_VERSION,
        "cp38-cp38-linux_x86_64",
        "H2O Driverless AI core runtime",
        requires=("numpy", "pandas", "psutil", "tabulate"),
    )
    names = pipeline_files.ExportNames(key, scorer_spec.filename, core_spec.filename)
    scorer_files = wheels.package_files(_SOURCES / "experiment", names.module)
    pickled = pickle.dumps(model, protocol=4)
    scorer_files[f"{names.module}/fitted_model.pickle"] = gzip.compress(pickled, mtime=0)
    wheels.write_wheel(scorer_spec, scorer_files, folder)
    core_files = wheels.package_files(_SOURCES / "h2oaicore", "h2oaicore")
    core_data = f"h2oaicore-{pipeline_files.DAI_VERSION}.data/data/lib/{_OPENBLAS.name}"
    core_files[core_data] = _OPENBLAS.read_bytes()
    wheels.write_wheel(core_spec, core_files, folder)
    texts: Dict[str, str] = {
        "requirements.txt": pipeline_files.requirements_txt(names),
        "req_constraints_deps.txt": pipeline_files.constraints_txt(),
        "environment.yml": pipeline_files.environment_yml(),
        "example.py": pipeline_files.example_py(dataset, names),
        "run_example.sh": pipeline_files.run_example_sh(),
        "http_server.py": pipeline_files.http_server_py(dataset, names),
        "http_server_requirements.txt": "tornado==6.0.4\n",
        "tcp_server_requirements.txt": "thrift==0.11.0\n",
    }
    all_files = [*texts, "README.txt", scorer_spec.filename, core_spec.filename]
    texts["README.txt"] = pipeline_files.readme_txt(names, all_files)
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "run_example.sh").chmod(0o755)
    return names.module


def _zip_folder(folder: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            archive.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
