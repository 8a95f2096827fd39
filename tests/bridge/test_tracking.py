"""The tracking bridge serves a local store over loopback, for its own call only, and never
outlives it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

import mlflow
import pytest
from helpers.pids import alive

from h2o_dai_py_scoring_mlflow.bridge import store_server
from h2o_dai_py_scoring_mlflow.bridge.tracking import (
    TrackingBridgeError,
    caller_tracking_uri,
    is_remote,
    serve_store,
)

pytestmark = pytest.mark.slow


def _get(url: str, token: Optional[str]) -> int:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_remote_uris_are_remote_and_local_ones_are_not() -> None:
    for uri in ("http://host:5000", "https://x", "databricks", "databricks://p", "databricks-uc"):
        assert is_remote(uri)
    for uri in ("sqlite:///mlflow.db", "/tmp/mlruns", "file:///tmp/mlruns", "postgresql://h/db"):
        assert not is_remote(uri)


def test_the_callers_uri_is_found_without_importing_mlflow(tmp_path: Path) -> None:
    """Importing MLflow costs seconds: the launcher reads MLFLOW_TRACKING_URI instead, and
    None stands for the caller MLflow's default store (the server resolves it)."""
    code = (
        "import sys\nfrom h2o_dai_py_scoring_mlflow.bridge.tracking import caller_tracking_uri\n"
        "print(caller_tracking_uri(), 'mlflow' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert done.stdout.split() == ["None", "False"], done.stderr
    env["MLFLOW_TRACKING_URI"] = "databricks"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert done.stdout.split() == ["databricks", "False"], done.stderr


def test_in_process_mlflow_settings_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mlflow.tracking._tracking_service.utils, "_tracking_uri", "http://x:1")
    assert caller_tracking_uri() == "http://x:1"


def test_a_local_store_is_served_to_its_call_only_and_then_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests without the call's token get 401 before MLflow sees them (also /health and
    /get-artifact); with it the store works, the run lands in the caller's store with its
    artifacts beside it, and after the block nothing listens any more."""
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with serve_store(store, python=Path(sys.executable), cwd=tmp_path) as served:
        assert served.url.startswith("http://127.0.0.1:")
        # Connecting before the server is ready is fine: the request waits in the backlog.
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", served.token)
        client = mlflow.MlflowClient(tracking_uri=served.url)
        run = client.create_run("0")
        client.set_terminated(run.info.run_id)
        ready = served.wait_ready()
        assert ready["uri"] == store and ready["pid"] == served.process.pid
        for path in ("/health", "/get-artifact?path=x&run_uuid=y", "/version"):
            assert _get(served.url + path, None) == 401
            assert _get(served.url + path, "not-the-token") == 401
        assert _get(served.url + "/health", served.token) == 200
        search = "/api/2.0/mlflow/experiments/search?max_results=5"
        assert _get(served.url + search, None) == 401
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{served.url}/health", timeout=2)
    assert not alive(served.process.pid)
    local = mlflow.MlflowClient(tracking_uri=store).get_run(run.info.run_id)
    assert local.info.status == "FINISHED"
    assert local.info.artifact_uri.startswith((tmp_path / "mlruns").as_uri())


def test_the_default_store_is_the_servers_mlflow_default_in_the_working_folder(
    tmp_path: Path,
) -> None:
    with serve_store(None, python=Path(sys.executable), cwd=tmp_path) as served:
        ready = served.wait_ready()
        search = served.url + "/api/2.0/mlflow/experiments/search?max_results=1"
        assert _get(search, served.token) == 200
    assert ready["uri"] == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert (tmp_path / "mlflow.db").is_file()


def test_a_store_the_server_cannot_open_stops_it_at_once_with_its_log(tmp_path: Path) -> None:
    """A store from a newer MLflow than the server's (an unknown schema revision)."""
    database = tmp_path / "future.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        connection.execute("INSERT INTO alembic_version VALUES ('ffffffffffff')")
    store = f"sqlite:///{database}"
    server = serve_store(store, python=Path(sys.executable), cwd=tmp_path)
    with server as served, pytest.raises(TrackingBridgeError, match="stopped") as caught:
        served.wait_ready()
    assert "ffffffffffff" in caught.value.message
    assert served.token not in caught.value.message


def test_the_server_dies_with_its_caller_even_on_kill_9(tmp_path: Path) -> None:
    code = (
        "import json, sys, time\nfrom pathlib import Path\n"
        "from h2o_dai_py_scoring_mlflow.bridge.tracking import serve_store\n"
        f"with serve_store('sqlite:///{tmp_path / 'm.db'}', python=Path(sys.executable), "
        f"cwd=Path({str(tmp_path)!r})) as s:\n"
        "    print(json.dumps({'pid': s.process.pid}), flush=True)\n"
        "    s.wait_ready()\n    print('ready', flush=True)\n    time.sleep(600)\n"
    )
    caller = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert caller.stdout is not None
    server_pid = json.loads(caller.stdout.readline())["pid"]
    assert caller.stdout.readline().strip() == "ready"
    assert alive(server_pid)
    caller.send_signal(signal.SIGKILL)
    caller.wait()
    deadline = time.monotonic() + 10
    while alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(server_pid)


def test_the_server_script_uses_the_variable_names_of_this_mlflow() -> None:
    from mlflow.server import constants

    assert constants.BACKEND_STORE_URI_ENV_VAR == store_server.BACKEND_STORE
    assert constants.REGISTRY_STORE_URI_ENV_VAR == store_server.REGISTRY_STORE
    assert constants.ARTIFACT_ROOT_ENV_VAR == store_server.ARTIFACT_ROOT
