"""The one place that touches MLflow internals, each use guarded by a version check."""

from __future__ import annotations

import logging
from pathlib import Path

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
