"""Ship a logged model to Spark's executors: a zip of its folder named by a digest of its
content, added to the Spark context once, and unpacked on each node into the environment cache
(in a temporary folder renamed into place, under a lock, so one Python worker unpacks it and
the others reuse it).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Iterator

_FOLDER = "spark-models"


def model_digest(model_dir: Path) -> str:
    """A digest of every file of the model (names and bytes)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        digest.update(path.relative_to(model_dir).as_posix().encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:24]


def pack_model(model_dir: Path, cache_root: Path) -> Path:
    """The model as ``<cache>/spark-models/dai-model-<digest>.zip`` (written once)."""
    folder = cache_root / _FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / f"dai-model-{model_digest(model_dir)}.zip"
    if archive.is_file():
        return archive
    partial = Path(tempfile.mkstemp(prefix=f".{archive.name}.", dir=folder)[1])
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as bundle:
            for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
                bundle.write(path, path.relative_to(model_dir).as_posix())
        partial.replace(archive)
    finally:
        partial.unlink(missing_ok=True)
    return archive


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def unpack_model(archive: Path, cache_root: Path) -> Path:
    """The model folder of ``archive`` in this node's cache, unpacked once."""
    target = cache_root / _FOLDER / archive.stem
    if (target / "MLmodel").is_file():
        return target
    with _locked(cache_root / _FOLDER / f".{archive.stem}.lock"):
        if (target / "MLmodel").is_file():
            return target
        staging = Path(tempfile.mkdtemp(prefix=f".{archive.stem}.", dir=target.parent))
        try:
            with zipfile.ZipFile(archive) as bundle:
                bundle.extractall(staging)
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target
