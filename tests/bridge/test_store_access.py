"""Before any work an entry point knows whether its MLflow can open the run's store, and, when it
cannot, finds an MLflow that can (or says at once what to do)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import mlflow
import pytest

from h2o_dai_py_scoring_mlflow.bridge.mlflow_finder import (
    NoMlflowForStoreError,
    find_store_server_python,
)
from h2o_dai_py_scoring_mlflow.bridge.store_compat import (
    StoreCheck,
    check_store,
    database_revision,
    migration_revisions,
)
from h2o_dai_py_scoring_mlflow.errors import error_lines
from h2o_dai_py_scoring_mlflow.runtime.environments import PythonEnvironment
from h2o_dai_py_scoring_mlflow.settings import load_settings

MLFLOW_PACKAGE = Path(mlflow.__file__).parent
CHECK = (
    "import json, sys\nfrom h2o_dai_py_scoring_mlflow.bridge.store_compat import check_store\n"
    "c = check_store(sys.argv[1], run_id=(sys.argv[2:] or [None])[0])\n"
    "print(json.dumps({'kind': c.kind, 'revision': c.revision, 'problem': c.problem}))"
)


def _mlflow3_store(folder: Path) -> str:
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    mlflow.MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    return uri


def _clean_env(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PYTHONPATH"))}
    env.update(extra)
    return env


def test_a_store_of_this_mlflow_opens_here(tmp_path: Path) -> None:
    uri = _mlflow3_store(tmp_path)
    check = check_store(uri)
    assert check.openable and check.kind == "database"
    assert check.revision in migration_revisions(MLFLOW_PACKAGE)
    assert check_store("http://127.0.0.1:5000").kind == "remote"


def test_an_empty_or_missing_database_opens(tmp_path: Path) -> None:
    assert database_revision(f"sqlite:///{tmp_path / 'none.db'}") is None
    sqlite3.connect(tmp_path / "empty.db").close()
    assert check_store(f"sqlite:///{tmp_path / 'empty.db'}").openable


@pytest.mark.slow
def test_mlflow_2_17_cannot_open_a_3x_store_and_says_why_without_touching_it(
    project_env: PythonEnvironment, tmp_path: Path
) -> None:
    uri = _mlflow3_store(tmp_path)
    before = (tmp_path / "mlflow.db").read_bytes()
    done = subprocess.run(
        [project_env.python, "-c", CHECK, uri],
        capture_output=True,
        text=True,
        env=_clean_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    revision = database_revision(uri)
    assert found["kind"] == "database" and found["revision"] == revision
    assert f"schema revision '{revision}' is newer than MLflow 2.17.2 knows" in found["problem"]
    assert (tmp_path / "mlflow.db").read_bytes() == before


@pytest.mark.slow
def test_mlflow_2_17_cannot_read_a_3x_file_store(
    project_env: PythonEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.create_run(client.create_experiment("e"))
    env = _clean_env(MLFLOW_ALLOW_FILE_STORE="true")
    argv = [project_env.python, "-c", CHECK, uri, run.info.run_id]
    found = json.loads(
        subprocess.run(argv, capture_output=True, text=True, env=env, check=False).stdout
    )
    assert found["kind"] == "file"
    assert "cannot read what a newer MLflow wrote there" in found["problem"]


def _fake_mlflow_command(folder: Path, python: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "mlflow"
    script.write_text(f"#!{python}\nimport sys\n")
    script.chmod(0o755)
    return folder


def test_without_an_mlflow_that_can_open_it_the_error_is_one_line_with_tips(
    tmp_path: Path,
) -> None:
    """A store from the future: nothing can open it; the error names the store and why."""
    check = StoreCheck("sqlite:////data/mlflow.db", "database", "ffffffffffff", "too new")
    path = _fake_mlflow_command(tmp_path / "bin", Path("/usr/bin/python3"))
    with pytest.raises(NoMlflowForStoreError) as caught:
        find_store_server_python(check, load_settings({}), {"PATH": str(path)})
    lines = error_lines(caught.value)
    assert (
        lines[0].startswith("ERROR: MLflow ") and "sqlite:////data/mlflow.db: too new" in lines[0]
    )
    assert "H2O_DAI_MLFLOW_BRIDGE_PYTHON (unset)" in lines[0]
    assert f"mlflow on PATH ({path / 'mlflow'}): /usr/bin/python3 (no MLflow)" in lines[0]
    tips = lines[1:]
    assert len(tips) == 3 and all(tip.startswith("TIP: ") for tip in tips)
    assert "mlflow server --backend-store-uri sqlite:////data/mlflow.db" in tips[0]
    assert "H2O_DAI_MLFLOW_BRIDGE_PYTHON" in tips[1] and "dai-mlflow log-model" in tips[2]


FIND = (
    "import json, os, sys\nfrom h2o_dai_py_scoring_mlflow.bridge.store_compat import check_store\n"
    "from h2o_dai_py_scoring_mlflow.bridge.mlflow_finder import find_store_server_python\n"
    "from h2o_dai_py_scoring_mlflow.errors import DaiMlflowError\n"
    "from h2o_dai_py_scoring_mlflow.settings import load_settings\n"
    "try:\n"
    "    found = find_store_server_python(check_store(sys.argv[1]), load_settings())\n"
    "    print(json.dumps({'python': str(found.python), 'where': found.where}))\n"
    "except DaiMlflowError as exc:\n"
    "    print(json.dumps({'error': exc.message}))\n"
)


def _find(project_env: PythonEnvironment, uri: str, env: Dict[str, str], via: List[str]) -> dict:
    """Run the finder inside the Project env, started by the process ``via`` describes."""
    argv = [*via, str(project_env.python), "-c", FIND, uri]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    result: dict = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
def test_the_python_that_started_the_entry_point_serves_the_store(
    project_env: PythonEnvironment, tmp_path: Path
) -> None:
    """As under `mlflow run`: MLflow 3's Python starts `bash -c`, which starts the entry point."""
    uri = _mlflow3_store(tmp_path)
    env = _clean_env(PATH="/usr/bin:/bin")
    starter = [sys.executable, "-c", "import subprocess, sys; subprocess.run(sys.argv[1:])"]
    found = _find(project_env, uri, env, [*starter, "bash", "-c", '"$0" "$@"'])
    assert found["python"] == sys.executable
    assert "the process that started this entry point" in found["where"]


def _old_starter(project_env: PythonEnvironment) -> List[str]:
    """A starter whose MLflow (2.17) cannot serve a 3.x store."""
    code = "import subprocess, sys; subprocess.run(sys.argv[1:])"
    return [str(project_env.python), "-c", code]


@pytest.mark.slow
def test_an_mlflow_on_path_or_the_setting_serves_the_store(
    project_env: PythonEnvironment, tmp_path: Path
) -> None:
    uri = _mlflow3_store(tmp_path)
    starter = _old_starter(project_env)
    on_path = _fake_mlflow_command(tmp_path / "bin", Path(sys.executable))
    found = _find(project_env, uri, _clean_env(PATH=f"{on_path}:/usr/bin:/bin"), starter)
    assert found["python"] == sys.executable and found["where"].startswith("mlflow on PATH")
    setting = _clean_env(PATH="/usr/bin:/bin", H2O_DAI_MLFLOW_BRIDGE_PYTHON=sys.executable)
    found = _find(project_env, uri, setting, starter)
    assert found == {"python": sys.executable, "where": "H2O_DAI_MLFLOW_BRIDGE_PYTHON"}


@pytest.mark.slow
def test_a_starter_without_a_newer_mlflow_and_an_empty_path_fail_at_once(
    project_env: PythonEnvironment, tmp_path: Path
) -> None:
    uri = _mlflow3_store(tmp_path)
    found = _find(project_env, uri, _clean_env(PATH="/usr/bin:/bin"), _old_starter(project_env))
    assert "cannot open the tracking store" in found["error"]
    assert "the process that started this entry point" in found["error"]
    assert "this environment (MLflow 2.17.2)" in found["error"]
    assert "mlflow on PATH: none outside this environment" in found["error"]
