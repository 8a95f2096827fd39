"""Run H2O Driverless AI Python scoring pipelines as MLflow pyfunc models under Python 3.8.

The package is a house with wings by role; each wing's ``__init__`` says which of the three
Pythons runs it (the caller's, the Project environment's, the export's scorer environment's) and
what it may import. README.md, "How it is built", has the map.
"""

import hashlib
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any, List


def _unzipped(package_path: List[str]) -> List[str]:
    """Imported from ``h2o_dai_py_scoring_mlflow.zip`` on ``sys.path`` (`dai-mlflow
    databricks-zip`, for notebooks that cannot install packages): the package is extracted once,
    by the zip's digest, into the temporary folder, and its modules load from there, so every
    file it reads by path (the shims, the MLflow Project, the worker) is a real file."""
    inside = package_path[0] if package_path else ""
    if ".zip" + os.sep not in inside:
        return package_path
    archive = Path(inside.rsplit(".zip" + os.sep, 1)[0] + ".zip")
    if not archive.is_file():
        return package_path
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:20]
    root = Path(tempfile.gettempdir()) / "dai-mlflow-unzipped" / digest
    if not root.is_dir():
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{digest}.", dir=root.parent))
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(staging)
        try:
            staging.rename(root)
        except OSError:  # another process put the same extraction there first
            shutil.rmtree(staging, ignore_errors=True)
            if not root.is_dir():
                raise
    return [str(root / __name__)]


__path__ = _unzipped(list(__path__))

from .version import __version__  # noqa: E402  # after the package path is settled

__all__ = [
    "__version__",
    "log_driverless_scoring_pipeline",
    "score_driverless_file",
    "score_spark",
    "predict_with_uv",
    "run_project",
]


def __getattr__(name: str) -> Any:
    """Lazy public API, so that importing the package stays light inside model environments."""
    if name == "log_driverless_scoring_pipeline":
        from .api import log_driverless_scoring_pipeline  # noqa: PLC0415

        return log_driverless_scoring_pipeline
    if name == "score_driverless_file":
        from .api import score_driverless_file  # noqa: PLC0415

        return score_driverless_file
    if name == "run_project":
        from .api import run_project  # noqa: PLC0415

        return run_project
    if name == "predict_with_uv":
        from .api import predict_with_uv  # noqa: PLC0415

        return predict_with_uv
    if name == "score_spark":
        from .spark.scoring import score_spark  # noqa: PLC0415

        return score_spark
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
