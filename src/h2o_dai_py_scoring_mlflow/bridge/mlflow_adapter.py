"""The one place that touches MLflow internals, each use guarded by a version check."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Tuple

from ..errors import DaiMlflowError

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


def open_store(tracking_uri: str, artifact_root: Path) -> None:
    """Open (and so create, when new) a local database store whose new experiments keep their
    artifacts under ``artifact_root``, as ``mlflow server --default-artifact-root`` would; the
    public API can only put them under ``./mlruns`` of the working folder.

    Uses ``mlflow.tracking._tracking_service.utils._get_store`` (MLflow 2.x and 3.x); where it is
    missing the store opens with MLflow's default root.
    """
    from mlflow.tracking._tracking_service import utils  # noqa: PLC0415

    get_store = getattr(utils, "_get_store", None)
    if get_store is None:
        LOG.debug("this MLflow has no _get_store; %s keeps its default artifact root", tracking_uri)
        return
    get_store(tracking_uri, artifact_root.resolve().as_uri())


class WorkspaceCredentialsError(DaiMlflowError):
    """The caller's MLflow found no workspace host or token for a Databricks URI."""


_CREDENTIALS_TIP = (
    "Run in a Databricks notebook or job, set DATABRICKS_HOST and DATABRICKS_TOKEN, or name a "
    "~/.databrickscfg profile that exists (databricks://PROFILE)."
)


def databricks_host_credentials(uri: str) -> Tuple[str, str]:
    """The workspace host and a token for a ``databricks``/``databricks://profile``/
    ``databricks-uc`` URI, from MLflow's own credential chain (a notebook's context, the
    ``DATABRICKS_*`` variables, a ``~/.databrickscfg`` profile); empty strings where it has none.

    Uses ``mlflow.utils.databricks_utils.get_databricks_host_creds`` (MLflow 2.x and 3.x).
    """
    from mlflow.exceptions import MlflowException  # noqa: PLC0415
    from mlflow.utils import databricks_utils  # noqa: PLC0415

    get_creds: Any = databricks_utils.get_databricks_host_creds  # untyped in MLflow
    try:
        creds = get_creds(uri)
    except MlflowException as exc:
        first = str(exc.message).strip().splitlines()[0]
        raise WorkspaceCredentialsError(
            f"MLflow could not read workspace credentials for {uri}: {first}",
            tip=_CREDENTIALS_TIP,
        ) from None
    host, token = str(creds.host or ""), str(creds.token or "")
    if not host or not token:
        raise WorkspaceCredentialsError(
            f"MLflow found no workspace host and token for {uri}.", tip=_CREDENTIALS_TIP
        )
    return host, token
