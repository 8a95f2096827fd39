"""The caller-side Python API: the same operations as `dai-mlflow`, from any Python."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence

from .batch.launch import ScoreRequest, ScoreSummary, score_file
from .bridge.launcher import LogModelRequest, build_command, run_build
from .errors import DaiMlflowError
from .model.environment import model_interpreter
from .model.inline import inline_capable, log_model_inline
from .model.location import open_model
from .model.record import BuiltModel, log_built_model, prefetch_mlflow, tracking_uri_set
from .scratch import scratch_dir
from .settings import ProjectMode, Settings, load_settings


def log_model(
    settings: Settings,
    request: LogModelRequest,
    *,
    echo: bool = False,
    extra_env: Optional[Mapping[str, str]] = None,
) -> Dict[str, Any]:
    """Log ``request``'s export as a Python 3.8 pyfunc model into the caller's tracking store.

    On a Python 3.8 with MLflow 2.17 everything happens in this process. Elsewhere the Project's
    `log_model` entry point builds the model in its cached 3.8 environment while this Python's
    MLflow loads, and this Python logs it: its own store, run, registry and credentials, whatever
    its MLflow version. Returns run_id, model_uri, artifact_path, the registered name and
    version, and the signature's output columns.
    """
    mode = settings.project_mode
    capable = inline_capable()
    if mode is ProjectMode.INLINE and not capable:
        raise DaiMlflowError(
            "H2O_DAI_MLFLOW_PROJECT=inline (the prototype's H2O_DAI_MLFLOW_DISABLE_PROJECT=1) "
            f"logs in this Python, which needs Python 3.8 with MLflow 2.17; this is Python "
            f"{sys.version_info[0]}.{sys.version_info[1]}.",
            tip="Unset it (the Project's 3.8 environment is then used), or run in a Python 3.8 "
            "environment with mlflow==2.17.2.",
        )
    if capable and mode is not ProjectMode.PROJECT:
        return log_model_inline(settings, request, extra_env=extra_env)
    with scratch_dir("model") as scratch:
        command = build_command(
            settings, request, scratch / "model", scratch, echo=echo, extra_env=extra_env
        )
        # Load this Python's MLflow while the model is built; started only now, so that its
        # import does not hold up the checks above (both need the GIL).
        root = request.workdir / "mlruns" if request.workdir is not None else None
        loading = prefetch_mlflow(request.tracking_uri, artifact_root=root)
        built = BuiltModel.from_json(run_build(command, echo=echo))
        loading.join()
        with tracking_uri_set(request.tracking_uri):
            logged = log_built_model(
                scratch / "model",
                built,
                artifact_path=request.artifact_path or settings.artifact_path,
                registered_model_name=request.registered_model_name,
                experiment=request.experiment or settings.experiment,
            )
    return dict(json.loads(logged.to_json()))


def log_driverless_scoring_pipeline(
    scoring_pipeline_dir: str,
    *,
    artifact_path: Optional[str] = None,
    registered_model_name: Optional[str] = None,
    apply_data_recipes: bool = False,
    input_example: Optional[Path] = None,
    experiment: Optional[str] = None,
) -> Dict[str, Any]:
    """Log a DAI export as a Python 3.8 pyfunc model into the caller's tracking store.

    Runs inline on a Python 3.8 with MLflow 2.17; from any other Python it runs the Project's
    `log_model` entry point inside the cached Python 3.8 environment, bridging a local tracking
    store over loopback HTTP. Returns run_id, model_uri, artifact_path, registered_model_name,
    registered_model_version and signature_outputs.
    """
    request = LogModelRequest(
        scoring_dir=scoring_pipeline_dir,
        artifact_path=artifact_path,
        registered_model_name=registered_model_name,
        apply_data_recipes=apply_data_recipes,
        input_example=input_example,
        experiment=experiment,
    )
    return log_model(load_settings(), request)


_PATH_LOCK = threading.Lock()


def predict_with_uv(model_uri: str, input_data: Any) -> Any:
    """``mlflow.models.predict(model_uri, input_data, env_manager="uv")`` for a model of this
    package, from any Python and MLflow: this machine's Python of the version the model records
    is put on PATH for the call (uv finds it there) and taken off again. Returns the predictions
    as a pandas DataFrame."""
    import mlflow  # noqa: PLC0415  # the caller's MLflow, any version
    import pandas as pd  # noqa: PLC0415

    settings = load_settings()
    with open_model(model_uri) as model, scratch_dir("predict") as scratch:
        python = model_interpreter(model.path, settings).path
        output = scratch / "predictions.json"
        with _PATH_LOCK:
            previous = os.environ.get("PATH", "")
            os.environ["PATH"] = f"{python.parent}{os.pathsep}{previous}"
            try:
                predict: Any = mlflow.models.predict  # unannotated in some MLflow versions
                predict(
                    model_uri=str(model.path),
                    input_data=input_data,
                    output_path=str(output),
                    env_manager="uv",
                )
            finally:
                os.environ["PATH"] = previous
        predictions = json.loads(output.read_text(encoding="utf-8"))
    rows = (
        predictions.get("predictions", predictions)
        if isinstance(predictions, dict)
        else predictions
    )
    return pd.DataFrame(rows)


def run_project(uri: str, entry_point: str, parameters: Dict[str, Any], **kwargs: Any) -> Any:
    """``mlflow.projects.run(uri, entry_point, parameters=..., **kwargs)`` with, when the
    tracking or registry URI is Databricks, the workspace host and a token from your MLflow's
    credential chain in the environment the Python 3.8 entry point inherits (for the call only;
    never on a command line, in a file, a log or the run). Returns MLflow's submitted run."""
    import mlflow  # noqa: PLC0415  # the caller's MLflow, any version

    from .databricks.credentials import (  # noqa: PLC0415
        is_databricks_uri,
        workspace_credentials_for_children,
    )

    tracking = str(mlflow.get_tracking_uri())
    registry = str(mlflow.get_registry_uri() or "")
    uri_for_credentials = tracking if is_databricks_uri(tracking) else registry
    run: Any = mlflow.projects.run  # unannotated in MLflow
    with workspace_credentials_for_children(uri_for_credentials):
        return run(uri, entry_point=entry_point, parameters=parameters, **kwargs)


def score_driverless_file(
    input_path: str,
    output_path: str,
    *,
    scoring_dir: Optional[str] = None,
    model_uri: Optional[str] = None,
    batch_size: Optional[int] = None,
    apply_data_recipes: Optional[bool] = None,
    keep_columns: Sequence[str] = (),
) -> ScoreSummary:
    """Score a CSV / Parquet / JSON lines file with a DAI export or a model logged by this package.

    Give exactly one of ``scoring_dir`` (folder, scorer.zip, dbfs:/) and ``model_uri`` (runs:/,
    models:/, a local model folder). Rows stream through the export's scorer inside the cached
    Python 3.8 environment, ``batch_size`` at a time (default ``H2O_DAI_MLFLOW_BATCH_SIZE``);
    the output appears at ``output_path`` only when complete. Inside an active MLflow run the
    rows, seconds and rows/s are logged to it as metrics.
    """
    request = ScoreRequest(
        input_path=input_path,
        output_path=output_path,
        scoring_dir=scoring_dir,
        model_uri=model_uri,
        batch_size=batch_size,
        apply_data_recipes=apply_data_recipes,
        keep_columns=tuple(keep_columns),
    )
    return score_file(load_settings(), request)
