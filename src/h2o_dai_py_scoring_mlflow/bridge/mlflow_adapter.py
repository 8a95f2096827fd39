"""The one place that touches MLflow internals, each use guarded by a version check."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

LOG = logging.getLogger(__name__)


def record_logged_model(run_id: str, model_dir: Path, artifact_path: str) -> None:
    """Add the run's ``mlflow.log-model.history`` entry, as ``Model.log`` would (UI listing).

    MLflow 2.x has ``MlflowClient._record_logged_model``; elsewhere the entry is skipped (the
    model is complete and loadable without it).
    """
    import mlflow  # noqa: PLC0415  # inside side only
    from mlflow.models import Model  # noqa: PLC0415

    client = mlflow.MlflowClient()
    record = getattr(client, "_record_logged_model", None)
    if not mlflow.__version__.startswith("2.") or record is None:
        LOG.debug("MLflow %s: logged-model history not recorded", mlflow.__version__)
        return
    model = Model.load(str(model_dir))
    model.run_id = run_id
    model.artifact_path = artifact_path
    record(run_id, model)


def tracking_server_command(
    backend_uri: str, artifact_root: str, *, host: str, port: int
) -> Tuple[List[str], Dict[str, str]]:
    """argv and extra environment that serve ``backend_uri`` with the caller's own MLflow.

    MLflow 3.x's ``mlflow server`` imports MLflow, then starts uvicorn, which imports it again
    (about 15 s here). Its app is started directly when this MLflow has the pieces that command
    uses (``mlflow.server.fastapi_app`` and the server's environment variable names); any other
    version gets the ``mlflow server`` command itself.
    """
    import mlflow  # noqa: PLC0415  # the caller's MLflow

    names = _server_env_names()
    direct = (
        int(mlflow.__version__.split(".")[0]) >= 3
        and names is not None
        and importlib.util.find_spec("uvicorn") is not None
        and importlib.util.find_spec("mlflow.server.fastapi_app") is not None
    )
    if direct and names is not None:
        argv = [sys.executable, "-m", "uvicorn", "mlflow.server.fastapi_app:app"]
        argv += ["--host", host, "--port", str(port), "--workers", "1"]
        return argv, {names[0]: backend_uri, names[1]: artifact_root}
    argv = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", backend_uri,
        "--default-artifact-root", artifact_root,
        "--no-serve-artifacts",
        "--host", host,
        "--port", str(port),
        "--workers", "1",
    ]  # fmt: skip
    return argv, {}


def _server_env_names() -> Optional[Tuple[str, str]]:
    """(backend store, artifact root) variable names of this MLflow's tracking server."""
    for module_name in ("mlflow.server.constants", "mlflow.server"):
        if importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)
        backend = getattr(module, "BACKEND_STORE_URI_ENV_VAR", None)
        artifacts = getattr(module, "ARTIFACT_ROOT_ENV_VAR", None)
        if isinstance(backend, str) and isinstance(artifacts, str):
            return backend, artifacts
    LOG.debug("MLflow server variable names not found; using the `mlflow server` command")
    return None
