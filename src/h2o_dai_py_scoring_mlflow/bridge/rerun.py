"""An entry point whose MLflow cannot open the run's tracking store reruns itself behind a bridge.

``mlflow run`` hands an entry point its caller's tracking URI. In the Project environment that is
MLflow 2.17, which cannot open a store a newer MLflow owns (MLflow 3.x's default
``sqlite:///mlflow.db``). Before any work, the entry point checks the store
(:mod:`.store_compat`); when it cannot open it, it finds a newer MLflow outside its environment
(:mod:`.mlflow_finder`), serves the store with it on loopback (:mod:`.tracking`), and runs itself
again with the same parameters against that server, in the same run (``MLFLOW_RUN_ID``). With no
such MLflow it fails at once, naming the store, why, and the fixes.

Runs in the Project environment.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from ..runtime import processes
from ..runtime.project import project_dir
from ..settings import Settings
from .mlflow_finder import find_store_server_python
from .store_compat import check_store, default_artifact_root, own_mlflow_version
from .tracking import serve_store

LOG = logging.getLogger(__name__)


def entry_point_tracking_uri() -> str:
    """The tracking URI ``mlflow run`` gave this entry point (else this MLflow's default)."""
    given = os.environ.get("MLFLOW_TRACKING_URI")
    if given:
        return given
    import mlflow  # noqa: PLC0415  # only when run outside `mlflow run`

    return str(mlflow.get_tracking_uri())


def rerun_behind_bridge(entry_point: str, argv: Sequence[str], settings: Settings) -> Optional[int]:
    """None when this process's MLflow can open the store; else run the entry point again
    behind a loopback server of a newer MLflow and return its exit code."""
    uri = entry_point_tracking_uri()
    check = check_store(uri, run_id=os.environ.get("MLFLOW_RUN_ID"))
    if check.openable:
        return None
    server = find_store_server_python(check, settings)
    LOG.info(
        "MLflow %s here cannot open %s: %s. Serving it with MLflow %s from %s, found as %s.",
        own_mlflow_version(),
        uri,
        check.problem,
        server.mlflow_version,
        server.python,
        server.where,
    )
    script = project_dir() / "entrypoints" / f"{entry_point}.py"
    with serve_store(
        uri, python=server.python, cwd=Path.cwd(), artifact_root=default_artifact_root(uri)
    ) as served:
        env = processes.child_environment(served.variables())
        code = processes.run_attached(
            [sys.executable, script, *argv], env=env, guard=served.process
        )
        if served.stopped():
            raise served.failure()
    return code
