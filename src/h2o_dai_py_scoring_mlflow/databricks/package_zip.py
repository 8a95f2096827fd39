"""`dai-mlflow databricks-zip`: this package as one ``h2o_dai_py_scoring_mlflow.zip``, importable
once the zip is on ``sys.path`` (the packager notebook's path when a workspace cannot install
packages). It carries the MLflow Project's files under ``_project/`` as a wheel does; on import
the package extracts itself once (see the package's ``__init__``)."""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

from ..runtime.project import PACKAGE_DIR, PROJECT_FILES, PROJECT_FOLDER, project_dir

ZIP_NAME = "h2o_dai_py_scoring_mlflow.zip"


def _files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )


def write_package_zip(out_dir: Path) -> Path:
    """Write ``out_dir/h2o_dai_py_scoring_mlflow.zip`` (replaced atomically); its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / ZIP_NAME
    package = PACKAGE_DIR.name
    handle, partial_name = tempfile.mkstemp(prefix=f".{ZIP_NAME}.", dir=out_dir)
    os.close(handle)
    partial = Path(partial_name)
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            for path in _files(PACKAGE_DIR):
                bundle.write(path, f"{package}/{path.relative_to(PACKAGE_DIR).as_posix()}")
            if not (PACKAGE_DIR / PROJECT_FOLDER).is_dir():
                project = project_dir()
                for name in PROJECT_FILES:
                    source = project / name
                    for path in _files(source) if source.is_dir() else [source]:
                        relative = path.relative_to(project).as_posix()
                        bundle.write(path, f"{package}/{PROJECT_FOLDER}/{relative}")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target
