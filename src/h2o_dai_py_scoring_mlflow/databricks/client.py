"""The workspace client: databricks-sdk's ``WorkspaceClient``, configured the SDK's own way
(``DATABRICKS_HOST`` / ``DATABRICKS_TOKEN``, a ``~/.databrickscfg`` profile, a notebook's
context), or a clear error when the `[databricks]` extra is missing."""

from __future__ import annotations

from typing import Any, Optional

from ..errors import DaiMlflowError


class DatabricksMissingError(DaiMlflowError):
    """databricks-sdk is not installed in this Python."""

    def __init__(self) -> None:
        super().__init__(
            "Databricks deployment needs databricks-sdk, which is not installed in this Python.",
            tip="pip install 'h2o-dai-py-scoring-mlflow[databricks]'",
        )


def workspace_client(profile: Optional[str] = None) -> Any:
    """A ``WorkspaceClient`` for ``profile`` (or the SDK's default configuration)."""
    try:
        from databricks.sdk import WorkspaceClient  # noqa: PLC0415  # the [databricks] extra
    except ImportError:
        raise DatabricksMissingError() from None
    return WorkspaceClient(profile=profile) if profile else WorkspaceClient()
