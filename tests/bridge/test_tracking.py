"""The tracking bridge serves a local store over loopback and always stops its server."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import mlflow
import pytest

from h2o_dai_py_scoring_mlflow.bridge import mlflow_adapter
from h2o_dai_py_scoring_mlflow.bridge.tracking import bridged_tracking_uri, is_remote

pytestmark = pytest.mark.slow


def test_remote_uris_pass_through() -> None:
    for uri in ("http://host:5000", "https://x", "databricks", "databricks-uc"):
        assert is_remote(uri)
        with bridged_tracking_uri(uri) as bridged:
            assert bridged == uri
    assert not is_remote("sqlite:///mlflow.db") and not is_remote("/tmp/mlruns")


def _exercise(tmp_path: Path) -> str:
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with bridged_tracking_uri(store, cwd=tmp_path) as url:
        assert url.startswith("http://127.0.0.1:")
        client = mlflow.MlflowClient(tracking_uri=url)
        run = client.create_run("0")
        client.set_terminated(run.info.run_id)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/health", timeout=2)
    local = mlflow.MlflowClient(tracking_uri=store).get_run(run.info.run_id)
    assert local.info.artifact_uri.startswith((tmp_path / "mlruns").as_uri())
    return url


def test_local_store_is_served_by_the_app_directly_and_stopped(tmp_path: Path) -> None:
    argv, _ = mlflow_adapter.tracking_server_command(
        "sqlite:///x.db", "file:///x", host="h", port=1
    )
    assert "uvicorn" in argv
    _exercise(tmp_path)


def test_fallback_to_the_mlflow_server_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the server's variable names are unknown, the `mlflow server` command is used."""
    monkeypatch.setattr(mlflow_adapter, "_server_env_names", lambda: None)
    argv, env = mlflow_adapter.tracking_server_command(
        "sqlite:///x.db", "file:///x", host="h", port=1
    )
    assert argv[1:4] == ["-m", "mlflow", "server"] and env == {}
    _exercise(tmp_path)
