"""Log a built model into a tracking store: the run (the active one, ``MLFLOW_RUN_ID``'s, or a
new one), its params and tags, the model's files as artifacts, and the registered version.

Runs with whichever MLflow does the logging: MLflow 2.17 inside Python 3.8 (the entry points,
inline logging), or the caller's own MLflow of any version, when the launcher had the model
built in 3.8 and logs it from the caller's side. So only MLflow's public API is used here (and
the one adapter for internals); the store is always opened by the MLflow that owns it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

from ..bridge import mlflow_adapter
from ..version import __version__

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuiltModel:
    """A pyfunc model saved in a folder, and what the run records about it."""

    scorer_module: str
    source: str
    signature_outputs: List[str]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> BuiltModel:
        data: Dict[str, Any] = json.loads(text)
        return cls(
            scorer_module=str(data["scorer_module"]),
            source=str(data["source"]),
            signature_outputs=[str(c) for c in data["signature_outputs"]],
        )


@dataclass(frozen=True)
class LoggedModel:
    """Where the model went: run, model URI, and the registered version if any."""

    run_id: str
    model_uri: str
    artifact_path: str
    registered_model_name: Optional[str]
    registered_model_version: Optional[str]
    signature_outputs: List[str]

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def prefetch_mlflow(
    tracking_uri: Optional[str] = None, *, artifact_root: Optional[Path] = None
) -> threading.Thread:
    """Start loading this Python's MLflow and opening its tracking store (``tracking_uri``, else
    the default) in the background: seconds each, spent while the model is built in Python 3.8.
    A new database store given ``artifact_root`` keeps new experiments' artifacts there. Best
    effort: a store that cannot be opened is left for the real call to report."""

    def load() -> None:
        import mlflow  # noqa: PLC0415
        from mlflow.exceptions import MlflowException  # noqa: PLC0415

        try:
            if tracking_uri and artifact_root is not None and "://" in tracking_uri:
                mlflow_adapter.open_store(tracking_uri, artifact_root)
            mlflow.MlflowClient(tracking_uri=tracking_uri).search_experiments(max_results=1)
        except (MlflowException, OSError) as exc:
            LOG.debug("the tracking store could not be opened ahead of time: %s", exc)

    thread = threading.Thread(target=load, name="dai-mlflow-prefetch", daemon=True)
    thread.start()
    return thread


@contextlib.contextmanager
def tracking_uri_set(uri: Optional[str]) -> Iterator[None]:
    """Use ``uri`` for the duration of the block, then restore the previous one."""
    if uri is None:
        yield
        return
    import mlflow  # noqa: PLC0415

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)


def log_built_model(
    model_dir: Path,
    built: BuiltModel,
    *,
    artifact_path: str,
    registered_model_name: Optional[str] = None,
    experiment: Optional[str] = None,
) -> LoggedModel:
    """Log the model saved in ``model_dir`` into the current tracking store."""
    import mlflow  # noqa: PLC0415  # whichever MLflow logs

    if experiment and mlflow.active_run() is None:
        mlflow.set_experiment(experiment)
    with mlflow.start_run(nested=mlflow.active_run() is not None) as run:
        mlflow.log_params({"dai_scorer_module": built.scorer_module, "dai_export": built.source})
        mlflow.set_tags({"h2o_dai_py_scoring_mlflow.version": __version__})
        mlflow.log_artifacts(str(model_dir), artifact_path)
        mlflow_adapter.record_logged_model(run.info.run_id, model_dir, artifact_path)
        model_uri = f"runs:/{run.info.run_id}/{artifact_path}"
        version = None
        if registered_model_name:
            version = str(mlflow.register_model(model_uri, registered_model_name).version)
    return LoggedModel(
        run.info.run_id,
        model_uri,
        artifact_path,
        registered_model_name,
        version,
        built.signature_outputs,
    )
