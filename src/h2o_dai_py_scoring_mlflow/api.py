"""The caller-side Python API: the same operations as `dai-mlflow`, from any Python."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

from .launcher import LogModelRequest, log_model
from .settings import load_settings


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
