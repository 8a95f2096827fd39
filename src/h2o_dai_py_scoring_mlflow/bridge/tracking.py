"""The tracking bridge between the caller's MLflow and MLflow 2.17 inside Python 3.8.

A local tracking store (a database or file store) belongs to the MLflow version that created
or migrated it: MLflow 2.17 cannot open a store MLflow 3.x migrated, and 3.x silently migrates
2.17 stores. REST works across versions. So a local store is served over loopback HTTP by an
MLflow that owns it (:mod:`.store_server`), for one call only: behind a per-call bearer token,
on a socket made here (so its address is known at once and clients may connect while the server
is still starting), in a process that dies with its caller. Remote URIs (http, https,
databricks) pass through unchanged.

Finding the caller's URI does not import MLflow (seconds on every call): an MLflow already
imported here is asked, else ``MLFLOW_TRACKING_URI``; without either it is the caller's default
local store, which the server resolves itself.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen
from typing import Any, Dict, Iterator, List, Mapping, Optional
from urllib.parse import urlparse

from ..errors import DaiMlflowError
from ..runtime import processes
from ..scratch import scratch_dir

LOG = logging.getLogger(__name__)
REMOTE_SCHEMES = ("http", "https", "databricks", "databricks-uc", "uc")
STORE_SERVER = Path(__file__).with_name("store_server.py")
TOKEN_VARIABLE = "DAI_MLFLOW_BRIDGE_TOKEN"  # read (and removed) by store_server.py
_START_TIMEOUT_S = 120.0


class TrackingBridgeError(DaiMlflowError):
    """The loopback tracking server for a local store did not start or stopped early."""


def is_remote(uri: str) -> bool:
    """http(s) and Databricks URIs (``databricks``, ``databricks://profile``, ``databricks-uc``)."""
    return (urlparse(uri).scheme or uri.strip()) in REMOTE_SCHEMES


def caller_tracking_uri() -> Optional[str]:
    """The caller's tracking URI, or None for its MLflow's default local store."""
    loaded = sys.modules.get("mlflow")
    if loaded is not None and hasattr(loaded, "get_tracking_uri"):
        return str(loaded.get_tracking_uri())
    return os.environ.get("MLFLOW_TRACKING_URI") or None


def caller_registry_uri() -> Optional[str]:
    """The caller's model registry URI, or None when it is its default local store."""
    explicit = os.environ.get("MLFLOW_REGISTRY_URI")
    if explicit:
        return explicit
    tracking = caller_tracking_uri()
    if "mlflow" not in sys.modules and (tracking is None or not is_remote(tracking)):
        return None
    import mlflow  # noqa: PLC0415  # the caller's MLflow, any version; its default for this URI

    return str(mlflow.get_registry_uri())


@dataclass(frozen=True)
class ServedStore:
    """A local store served on loopback for one call."""

    url: str
    token: str
    process: Popen[str]
    ready_file: Path
    log: Path

    def variables(self) -> Dict[str, str]:
        """What a child needs to use the store: the URL and the token MLflow sends."""
        return {"MLFLOW_TRACKING_URI": self.url, "MLFLOW_TRACKING_TOKEN": self.token}

    def stopped(self) -> bool:
        return self.process.poll() is not None

    def wait_ready(self, timeout: float = _START_TIMEOUT_S) -> Dict[str, Any]:
        """Wait until the server has loaded MLflow and the store; return what it reported."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready_file.is_file():
                record: Dict[str, Any] = json.loads(self.ready_file.read_text(encoding="utf-8"))
                return record
            if self.stopped():
                break
            time.sleep(0.1)
        raise self.failure()

    def failure(self) -> TrackingBridgeError:
        tail = self.log.read_text(encoding="utf-8", errors="replace")[-2000:].strip()
        state = "stopped" if self.stopped() else "did not start in time"
        return TrackingBridgeError(
            f"The loopback MLflow server for the local tracking store {state}."
            + (f"\n{tail}" if tail else ""),
            tip="Run `mlflow server` yourself with that store and set "
            "MLFLOW_TRACKING_URI=http://127.0.0.1:<port>.",
        )


@contextlib.contextmanager
def serve_store(
    store_uri: Optional[str],
    *,
    python: Path,
    cwd: Optional[Path] = None,
    artifact_root: Optional[Path] = None,
) -> Iterator[ServedStore]:
    """Serve ``store_uri`` (None: ``python``'s MLflow's default store in ``cwd``) on loopback
    with ``python``'s MLflow until the block ends. Returns at once; the server starts meanwhile.
    New experiments' artifacts go under ``artifact_root`` (default: as that MLflow would)."""
    folder = (cwd or Path.cwd()).resolve()
    token = secrets.token_urlsafe(32)
    with scratch_dir("tracking") as scratch:
        ready, log = scratch / "ready.json", scratch / "server.log"
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind(("127.0.0.1", 0))
            listener.listen(64)
            port = int(listener.getsockname()[1])
            argv: List[processes.Arg] = [
                python, STORE_SERVER, "--fd", str(listener.fileno()),
                "--ready", ready, "--cwd", folder,
            ]  # fmt: skip
            if store_uri:
                argv += ["--backend-uri", store_uri]
            if artifact_root is not None:
                argv += ["--artifact-root", artifact_root.resolve().as_uri()]
            env = processes.child_environment({TOKEN_VARIABLE: token}, drop=_CLIENT_VARIABLES)
            server = processes.start(
                argv, log=log, env=env, cwd=folder, pass_fds=[listener.fileno()]
            )
        finally:
            listener.close()
        url = f"http://127.0.0.1:{port}"
        LOG.info(
            "Serving the local tracking store %s at %s for Python 3.8",
            store_uri or "(default)",
            url,
        )
        try:
            yield ServedStore(url, token, server, ready, log)
        finally:
            processes.stop(server)


# A store server is a server, not a client of another one.
_CLIENT_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN", "MLFLOW_RUN_ID")


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
