"""Workspace credentials reach the Python 3.8 side through its environment only, found by the
caller's own MLflow (here: a ~/.databrickscfg profile); and `dai-mlflow databricks-zip` writes a
zip that a fresh Python imports and runs from `sys.path`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from helpers.cli import cli_env, dai_mlflow
from helpers.fake_databricks import FakeDatabricks, FakeWorkspace

from h2o_dai_py_scoring_mlflow.bridge.mlflow_adapter import WorkspaceCredentialsError
from h2o_dai_py_scoring_mlflow.databricks.credentials import (
    HOST,
    TOKEN,
    workspace_credentials_for_children,
)

TOKEN_VALUE = "dapi-profile-token-42"

CHILD = "import os, sys; print(os.environ.get('DATABRICKS_HOST', '')); print(' '.join(sys.argv))"


@pytest.fixture
def profile_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeDatabricks]:
    with FakeDatabricks(FakeWorkspace(token=TOKEN_VALUE)) as server:
        home = tmp_path / "home"
        home.mkdir()
        (home / ".databrickscfg").write_text(
            f"[work]\nhost = {server.host}\ntoken = {TOKEN_VALUE}\n", encoding="utf-8"
        )
        monkeypatch.setenv("HOME", str(home))
        monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(home / ".databrickscfg"))
        for name in (HOST, TOKEN, "DATABRICKS_CONFIG_PROFILE"):
            monkeypatch.delenv(name, raising=False)
        yield server


def test_children_find_the_workspace_in_their_environment_only_for_the_call(
    profile_home: FakeDatabricks,
) -> None:
    with workspace_credentials_for_children("databricks://work"):
        assert os.environ[HOST].rstrip("/") == profile_home.host
        assert os.environ[TOKEN] == TOKEN_VALUE
        child = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                               check=True)  # fmt: skip
    host, argv = child.stdout.splitlines()
    assert host.rstrip("/") == profile_home.host
    assert TOKEN_VALUE not in argv
    assert HOST not in os.environ and TOKEN not in os.environ


def test_other_stores_change_nothing_and_a_missing_profile_is_one_clear_error(
    profile_home: FakeDatabricks,
) -> None:
    with workspace_credentials_for_children("sqlite:///mlflow.db"):
        assert HOST not in os.environ
    absent = workspace_credentials_for_children("databricks://absent")
    with pytest.raises(WorkspaceCredentialsError, match=r"databricks://absent") as raised:
        absent.__enter__()
    assert "~/.databrickscfg" in (raised.value.tip or "")
    assert TOKEN_VALUE not in str(raised.value)
    assert HOST not in os.environ


def test_the_package_zip_imports_and_runs_from_sys_path(tmp_path: Path, env_root: Path) -> None:
    done = dai_mlflow(["databricks-zip", "--out", str(tmp_path / "out")], tmp_path,
                      cli_env(env_root))  # fmt: skip
    assert done.returncode == 0, done.stderr
    archive = tmp_path / "out" / "h2o_dai_py_scoring_mlflow.zip"
    assert archive.is_file()
    script = (
        "import io, json, sys, contextlib\n"
        f"sys.path.insert(0, {str(archive)!r})\n"
        "import h2o_dai_py_scoring_mlflow as package\n"
        "from h2o_dai_py_scoring_mlflow.runtime.project import project_dir\n"
        "from h2o_dai_py_scoring_mlflow.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    code = main(['env', '--json'])\n"
        "print(json.dumps({'path': package.__path__[0], 'project': str(project_dir()),\n"
        "                  'code': code, 'env': json.loads(out.getvalue())}))\n"
    )
    run = subprocess.run([sys.executable, "-I", "-c", script], cwd=tmp_path, capture_output=True,
                         text=True, check=False, env=cli_env(env_root))  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert "dai-mlflow-unzipped" in result["path"]
    assert (Path(result["project"]) / "MLproject").is_file()
    assert (Path(result["project"]) / "shims" / "h2o_dai_shims.py").is_file()
    assert result["code"] == 0 and "settings" in result["env"]
