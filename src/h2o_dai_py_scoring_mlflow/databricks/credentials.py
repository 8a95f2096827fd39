"""Workspace credentials for the Python 3.8 side.

An entry point that ``mlflow.projects.run`` starts from a notebook or job runs in a new Python
3.8 process, which has no notebook context: it can reach the workspace only through
``DATABRICKS_HOST`` and ``DATABRICKS_TOKEN`` in the environment it inherits. For the length of
the call, :func:`workspace_credentials_for_children` puts there what the caller's own MLflow
credential chain finds (notebook context, environment, ``~/.databrickscfg`` profile), and takes
it away afterwards - never a command line, a file, a log or a run parameter. Variables the
caller set themselves are left as they are.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Iterator, Optional

from ..bridge.mlflow_adapter import databricks_host_credentials

HOST = "DATABRICKS_HOST"
TOKEN = "DATABRICKS_TOKEN"
_LOCK = threading.Lock()


def is_databricks_uri(uri: Optional[str]) -> bool:
    return bool(uri) and str(uri).split(":", 1)[0] in ("databricks", "databricks-uc")


@contextlib.contextmanager
def workspace_credentials_for_children(uri: Optional[str]) -> Iterator[None]:
    """While the block runs, children started by this process (``mlflow.projects.run``'s entry
    point) find the workspace of ``uri`` in their environment. Nothing happens for other URIs
    or when both variables are already set."""
    if not is_databricks_uri(uri) or (os.environ.get(HOST) and os.environ.get(TOKEN)):
        yield
        return
    host, token = databricks_host_credentials(str(uri))
    with _LOCK:
        saved = {name: os.environ.get(name) for name in (HOST, TOKEN)}
        os.environ[HOST], os.environ[TOKEN] = host, token
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
