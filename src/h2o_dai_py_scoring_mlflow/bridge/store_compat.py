"""Can an MLflow open a local tracking store? Asked before any work, without changing the store.

A database store (sqlite, PostgreSQL, MySQL, SQL Server) records its schema as an alembic
revision; an MLflow can open it when its own migration scripts know that revision (opening a
store from a newer MLflow fails with ``Can't locate revision``, and opening an older one migrates
it). A file store has no revision: MLflow 2.17 is asked to read the run (or the default
experiment) and any failure to parse it means a newer MLflow wrote it.

Runs wherever an entry point runs, usually the Project environment (Python 3.8, MLflow 2.17).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, FrozenSet, Optional
from urllib.parse import unquote, urlparse

from .tracking import is_remote

LOG = logging.getLogger(__name__)
DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
_REVISION = re.compile(r"""^revision\s*=\s*["']([0-9A-Za-z_]+)["']""", re.MULTILINE)


@dataclass(frozen=True)
class StoreCheck:
    """What a store is and, when this MLflow cannot open it, why."""

    uri: str
    kind: str  # "remote", "database" or "file"
    revision: Optional[str] = None
    problem: Optional[str] = None

    @property
    def openable(self) -> bool:
        return self.problem is None


def default_artifact_root(uri: str) -> Optional[Path]:
    """Where new experiments of a sqlite store keep artifacts: ``mlruns`` beside the file, as
    MLflow 3's default store (``sqlite:///mlflow.db`` in the working folder) does."""
    if uri.startswith("sqlite:///"):
        return Path(unquote(uri[len("sqlite:///") :])).parent / "mlruns"
    return None


def migration_revisions(mlflow_package: Path) -> FrozenSet[str]:
    """The alembic revisions an installed MLflow (its package folder) can open."""
    versions = mlflow_package / "store" / "db_migrations" / "versions"
    found = set()
    for script in versions.glob("*.py"):
        match = _REVISION.search(script.read_text(encoding="utf-8", errors="replace"))
        if match is not None:
            found.add(match.group(1))
    return frozenset(found)


def _own_mlflow() -> Path:
    spec = importlib.util.find_spec("mlflow")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("mlflow is not installed in this environment")
    return Path(spec.origin).parent


def own_mlflow_version() -> str:
    """The version of the MLflow installed here, read without importing it."""
    return importlib.metadata.version("mlflow")


def database_revision(uri: str) -> Optional[str]:
    """The store's alembic revision (None for an empty database), read without migrating it."""
    if urlparse(uri).scheme == "sqlite":
        path = unquote(uri[len("sqlite:///") :]) if uri.startswith("sqlite:///") else ""
        if not path or path == ":memory:" or not Path(path).is_file():
            return None
        return _sqlite_revision(Path(path))
    return _server_database_revision(uri)


def _sqlite_revision(path: Path) -> Optional[str]:
    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.OperationalError:  # no alembic_version table: not an MLflow schema yet
        return None
    finally:
        connection.close()
    return str(rows[0][0]) if rows else None


def _server_database_revision(uri: str) -> Optional[str]:
    import sqlalchemy  # noqa: PLC0415  # MLflow's own dependency; only for server databases

    engine = sqlalchemy.create_engine(uri)
    try:
        with engine.connect() as connection:
            if not sqlalchemy.inspect(connection).has_table("alembic_version"):
                return None
            rows = connection.execute(sqlalchemy.text("SELECT version_num FROM alembic_version"))
            first = rows.first()
            return str(first[0]) if first is not None else None
    finally:
        engine.dispose()


def _file_store_problem(uri: str, run_id: Optional[str]) -> Optional[str]:
    parsed = urlparse(uri)
    if not Path(unquote(parsed.path) if parsed.scheme == "file" else uri).exists():
        return None  # a new store: whichever MLflow writes first owns it
    from mlflow.exceptions import MlflowException  # noqa: PLC0415
    from mlflow.store.tracking import file_store  # noqa: PLC0415

    store_class: Any = file_store.FileStore  # unannotated in MLflow 2.17
    try:
        store = store_class(uri)
        if run_id:
            store.get_run(run_id)
        else:
            store.get_experiment("0")
    except (MlflowException, TypeError, KeyError, ValueError, OSError) as exc:
        LOG.debug("this MLflow cannot read the file store %s: %r", uri, exc)
        return f"this MLflow cannot read what a newer MLflow wrote there ({type(exc).__name__})"
    return None


def check_store(uri: str, *, run_id: Optional[str] = None) -> StoreCheck:
    """Whether the MLflow installed here can open the tracking store at ``uri``."""
    if is_remote(uri):
        return StoreCheck(uri, "remote")
    scheme = urlparse(uri).scheme.split("+")[0]
    if scheme in DATABASE_SCHEMES:
        revision = database_revision(uri)
        if revision is None or revision in migration_revisions(_own_mlflow()):
            return StoreCheck(uri, "database", revision)
        problem = (
            f"its schema revision {revision!r} is newer than MLflow {own_mlflow_version()} "
            "knows (a newer MLflow created or upgraded it)"
        )
        return StoreCheck(uri, "database", revision, problem)
    return StoreCheck(uri, "file", problem=_file_store_problem(uri, run_id))
