"""The tracking bridge between the caller's MLflow and MLflow 2.17 inside Python 3.8.

A local tracking store (a database or file store) belongs to the MLflow version that created
or migrated it: MLflow 2.17 cannot open a store MLflow 3.x migrated, and 3.x silently migrates
2.17 stores. REST works across versions. So when the caller's URI is local, the caller's own
MLflow serves it on 127.0.0.1 for the duration of the call, and the 3.8 side gets the
``http://`` URI; remote URIs (http, https, databricks) pass through unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator, Mapping, Optional
from urllib.parse import urlparse

from ..errors import DaiMlflowError
from ..runtime import processes
from . import mlflow_adapter

LOG = logging.getLogger(__name__)
REMOTE_SCHEMES = ("http", "https", "databricks", "databricks-uc", "uc")
_START_TIMEOUT_S = 120.0


class TrackingBridgeError(DaiMlflowError):
    """The loopback tracking server for a local store did not start."""


def is_remote(uri: str) -> bool:
    """http(s) and Databricks URIs (``databricks``, ``databricks://profile``, ``databricks-uc``)."""
    return (urlparse(uri).scheme or uri.strip()) in REMOTE_SCHEMES


def caller_tracking_uri() -> str:
    """The tracking URI the caller's own MLflow would use right now."""
    import mlflow  # noqa: PLC0415  # the caller's MLflow, any version

    return str(mlflow.get_tracking_uri())


def caller_registry_uri() -> str:
    """The model registry URI the caller's own MLflow would use right now."""
    import mlflow  # noqa: PLC0415  # the caller's MLflow, any version

    return str(mlflow.get_registry_uri())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _artifact_root(uri: str, cwd: Path) -> str:
    """Where this store's own MLflow would put artifacts: the file store itself, else ./mlruns."""
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        path = Path(parsed.path if parsed.scheme else uri)
        return (path if path.is_absolute() else cwd / path).resolve().as_uri()
    return (cwd / "mlruns").resolve().as_uri()


def _wait_healthy(url: str, server: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError) as exc:
            LOG.debug("tracking server not up yet: %s", exc)
        time.sleep(0.3)
    tail = log.read_text(encoding="utf-8", errors="replace")[-2000:] if log.exists() else ""
    raise TrackingBridgeError(
        f"The loopback MLflow server for the local tracking store did not start.\n{tail}",
        tip="Run `mlflow server` yourself and set MLFLOW_TRACKING_URI=http://127.0.0.1:<port>.",
    )


@contextlib.contextmanager
def bridged_tracking_uri(uri: Optional[str] = None, *, cwd: Optional[Path] = None) -> Iterator[str]:
    """Yield a URI the 3.8 side can use for ``uri`` (default: the caller's), serving a local
    store over loopback HTTP for the duration of the block."""
    uri = uri or caller_tracking_uri()
    if is_remote(uri):
        yield uri
        return
    folder = (cwd or Path.cwd()).resolve()
    port = _free_port()
    argv, server_env = mlflow_adapter.tracking_server_command(
        uri, _artifact_root(uri, folder), host="127.0.0.1", port=port
    )
    url = f"http://127.0.0.1:{port}"
    LOG.info("Serving the local tracking store %s at %s for the Python 3.8 side", uri, url)
    with tempfile.TemporaryDirectory(prefix="dai-mlflow-tracking-") as scratch:
        log = Path(scratch) / "server.log"
        env = processes.child_environment(server_env)
        server = processes.start(argv, log=log, cwd=folder, env=env)
        try:
            _wait_healthy(url, server, log)
            yield url
        finally:
            processes.stop(server)


def log_run_metrics(metrics: Mapping[str, float]) -> Optional[str]:
    """Log ``metrics`` to the active MLflow run, if there is one; return its id (else None).

    The active run is the caller's in-process one (``mlflow.active_run()``, only looked at when
    MLflow is already imported), else ``MLFLOW_RUN_ID`` as ``mlflow run`` sets it for entry
    points. A failure to log is a warning: the scored output is already in place.
    """
    run_id: Optional[str] = None
    loaded = sys.modules.get("mlflow")
    if loaded is not None:
        active = loaded.active_run()
        run_id = active.info.run_id if active is not None else None
    run_id = run_id or os.environ.get("MLFLOW_RUN_ID") or None
    if run_id is None:
        return None
    import mlflow  # noqa: PLC0415  # the caller's MLflow, any version
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    client = mlflow.MlflowClient()
    try:
        for key, value in metrics.items():
            client.log_metric(run_id, key, value)
    except MlflowException as exc:
        LOG.warning("could not log metrics to run %s: %s", run_id, exc)
        return None
    return run_id
