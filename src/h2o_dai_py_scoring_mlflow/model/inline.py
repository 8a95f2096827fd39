"""Log a model in this very process, when it is itself a Python 3.8 with MLflow 2.17 (the
Project environment, or a user's 3.8 notebook that has it): no second environment, no bridge.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
from dataclasses import replace
from typing import Any, Dict, Mapping, Optional

from ..bridge.launcher import LogModelRequest
from ..settings import Settings
from .record import tracking_uri_set


def inline_capable() -> bool:
    """True on a Python 3.8 that has MLflow 2.17 (the inside side itself)."""
    if sys.version_info[:2] != (3, 8):
        return False
    try:
        version = importlib.metadata.version("mlflow")
    except importlib.metadata.PackageNotFoundError:
        return False
    return version.startswith("2.17.")


def log_model_inline(
    settings: Settings,
    request: LogModelRequest,
    *,
    extra_env: Optional[Mapping[str, str]] = None,
) -> Dict[str, Any]:
    """Package and log ``request`` here; the same result record as the launched entry point."""
    from .packaging import log_driverless_scoring_pipeline  # noqa: PLC0415  # needs mlflow

    inline = replace(settings, experiment=request.experiment or settings.experiment)
    with tracking_uri_set(request.tracking_uri):
        logged = log_driverless_scoring_pipeline(
            request.scoring_dir,
            artifact_path=request.artifact_path,
            registered_model_name=request.registered_model_name,
            apply_data_recipes=request.apply_data_recipes,
            input_example=request.input_example,
            settings=inline,
            extra_env=extra_env,
        )
    return dict(json.loads(logged.to_json()))
