"""`mlflow run` and `mlflow.projects.run` as users type them: from Python 3.11 with MLflow 3.x in
an empty folder (MLflow 3's default store, sqlite:///mlflow.db), into that store.

The Project environment (Python 3.8, MLflow 2.17) cannot open that store, so each entry point
finds it needs the bridge, serves the store with the MLflow that started it and logs into the run
MLflow created. Python 3.8.12 comes from an emulated pyenv (`virtualenv` manager) and an emulated
uv (`uv` manager), both this machine's 3.8.x under that name (helpers/emulation.py).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import mlflow
import numpy as np
import pandas as pd
import pytest
from conftest import REPO, InstalledWheel, _real_pyenv_root
from helpers.cli import cli_env, dai_mlflow
from helpers.emulation import emulated_pyenv, emulated_uv, path_with
from helpers.servers import free_port

from h2o_dai_py_scoring_mlflow.runtime.environments import PythonEnvironment
from h2o_dai_py_scoring_mlflow.runtime.interpreters import Interpreter
from h2o_dai_py_scoring_mlflow.samples import SampleResult, build_sample
from h2o_dai_py_scoring_mlflow.samples.datasets import make_dataset

pytestmark = pytest.mark.slow

DEV_BIN = Path(sys.executable).parent
MLFLOW = DEV_BIN / "mlflow"


@dataclass(frozen=True)
class Machine:
    """A user's machine: pyenv and uv that can provide 3.8.12, this Python with MLflow 3.x."""

    pyenv_root: Path
    uv_bin: Path
    sample: SampleResult

    def env(self, env_root: Path, **extra: str) -> Dict[str, str]:
        variables = cli_env(
            env_root,
            DRIVERLESS_AI_LICENSE_FILE=str(self.sample.license_file),
            PYENV_ROOT=str(self.pyenv_root),
            PATH=path_with(self.uv_bin, DEV_BIN, _real_pyenv_root() / "bin"),
        )
        variables.pop("VIRTUAL_ENV", None)
        variables.update(extra)
        return variables


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory, python38: Interpreter) -> Machine:
    root = tmp_path_factory.mktemp("machine")
    uv = shutil.which("uv", path=str(DEV_BIN))
    assert uv is not None, "uv is a dependency of this package"
    return Machine(
        pyenv_root=emulated_pyenv(root / "pyenv", python38.path, _real_pyenv_root()),
        uv_bin=emulated_uv(root / "uv-bin", python38.path, Path(uv)),
        sample=build_sample("binary", root / "sample", rows=1500, zip_output=True),
    )


def _run(argv: List[object], cwd: Path, env: Dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return done


def _client(folder: Path) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")


def _assert_logged_into_the_callers_store(
    folder: Path, done: subprocess.CompletedProcess[str]
) -> None:
    """One FINISHED run in the folder's own store, the model under its artifacts, version 1 of
    `m` pointing at it; the entry point said it bridged the store."""
    assert "Serving it with MLflow 3." in done.stderr
    client = _client(folder)
    runs = client.search_runs(["0"])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    model = Path(run.info.artifact_uri.replace("file://", "")) / "h2o_dai_scoring_pyfunc"
    assert (model / "MLmodel").is_file()
    assert (model / "code" / "h2o_dai_shims.py").is_file()
    assert str(folder / "mlruns") in run.info.artifact_uri
    version = client.get_model_version("m", "1")
    assert version.run_id == run.info.run_id


def _log_model_argv(machine: Machine, *options: str) -> List[object]:
    return [
        MLFLOW, "run", REPO, "-e", "log_model", *options,
        "-P", f"scoring_dir={machine.sample.pipeline}", "-P", "registered_model_name=m",
    ]  # fmt: skip


def test_mlflow_run_log_model_with_the_default_env_manager(
    machine: Machine, env_root: Path, tmp_path: Path
) -> None:
    """`virtualenv`: MLflow builds the Project env with pyenv's 3.8.12, venv and pip."""
    done = _run(_log_model_argv(machine), tmp_path, machine.env(env_root))
    _assert_logged_into_the_callers_store(tmp_path, done)


def test_mlflow_run_log_model_with_uv(
    machine: Machine, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """`uv`: its own environment root, so MLflow really builds the Project env with uv (MLflow
    3.17+ restores the repository's uv.lock with `uv sync`, which must work too)."""
    own_root = tmp_path_factory.mktemp("uv-envs")
    done = _run(_log_model_argv(machine, "--env-manager", "uv"), tmp_path, machine.env(own_root))
    _assert_logged_into_the_callers_store(tmp_path, done)
    assert any(p.name.startswith("mlflow-") for p in own_root.iterdir())


def test_mlflow_run_log_model_with_the_local_env_manager(
    machine: Machine, env_root: Path, tmp_path: Path
) -> None:
    """`local`: the entry point runs in the caller's Python 3.11 and hands the work to the cached
    Project environment, as `dai-mlflow log-model` does, into the same run."""
    argv = _log_model_argv(machine, "--env-manager", "local")
    done = subprocess.run(
        [str(a) for a in argv], cwd=tmp_path, env=machine.env(env_root),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    client = _client(tmp_path)
    run = client.search_runs(["0"])[0]
    assert run.info.status == "FINISHED"
    assert client.get_model_version("m", "1").run_id == run.info.run_id


def _rows_with_missing_values(folder: Path) -> Path:
    """Unseen rows, every input column missing somewhere, and an id column named `-id`."""
    data = make_dataset("binary", rows=400, seed=31).train.head(120)
    frame = data.drop(columns=[data.columns[-1]]).reset_index(drop=True)
    for position, column in enumerate(frame.columns):
        frame.loc[position * 3, column] = None
    frame.insert(0, "-id", [f"r{i}" for i in range(len(frame))])
    path = folder / "rows.csv"
    frame.to_csv(path, index=False)
    return path


def _score_with_dai_mlflow(machine: Machine, env_root: Path, rows: Path, folder: Path) -> Path:
    env = cli_env(env_root, DRIVERLESS_AI_LICENSE_FILE=str(machine.sample.license_file))
    out = folder / "expected.csv"
    args = ["score", "--scoring-dir", str(machine.sample.pipeline), "--input-path", str(rows)]
    done = dai_mlflow([*args, "--output-path", str(out), "--keep-columns=-id"], folder, env)
    assert done.returncode == 0, done.stderr
    return out


PROJECTS_RUN = """
import json, sys
import mlflow
uri, entry_point, parameters = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
version = sys.argv[4] if len(sys.argv) > 4 else None
submitted = mlflow.projects.run(uri, entry_point=entry_point, parameters=parameters,
                                version=version, synchronous=True)
print(json.dumps({"run_id": submitted.run_id}))
"""


def _projects_run(
    python: Path, uri: str, entry_point: str, parameters: Dict[str, str], cwd: Path,
    env: Dict[str, str], version: Optional[str] = None,
) -> str:  # fmt: skip
    argv: List[object] = [python, "-c", PROJECTS_RUN, uri, entry_point, json.dumps(parameters)]
    done = _run([*argv, *([version] if version else [])], cwd, env)
    run_id: str = json.loads(done.stdout.strip().splitlines()[-1])["run_id"]
    return run_id


def _assert_same_scores(got: Path, expected: Path) -> None:
    scored, wanted = pd.read_csv(got), pd.read_csv(expected)
    assert list(scored.columns) == list(wanted.columns) and scored.columns[0] == "-id"
    assert scored["-id"].tolist() == wanted["-id"].tolist()
    assert np.array_equal(scored.iloc[:, 1:].to_numpy(), wanted.iloc[:, 1:].to_numpy())


def test_projects_run_score_from_python_with_missing_values(
    machine: Machine, env_root: Path, tmp_path: Path
) -> None:
    """`mlflow.projects.run(<checkout>, entry_point="score", ...)` from a script: the scored file
    equals `dai-mlflow score`'s, a parameter value starting with '-' arrives intact, and the
    run gets the rows metric in the caller's store."""
    rows = _rows_with_missing_values(tmp_path)
    expected = _score_with_dai_mlflow(machine, env_root, rows, tmp_path)
    out = tmp_path / "scored.csv"
    parameters = {
        "scoring_dir": str(machine.sample.pipeline),
        "input_path": str(rows),
        "output_path": str(out),
        "keep_columns": "-id",
    }
    run_id = _projects_run(
        Path(sys.executable), str(REPO), "score", parameters, tmp_path, machine.env(env_root)
    )
    _assert_same_scores(out, expected)
    run = _client(tmp_path).get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["rows"] == 120


def test_projects_run_score_with_batch_size_0_scores_the_whole_file_in_one_batch(
    machine: Machine, env_root: Path, tmp_path: Path
) -> None:
    """The prototype's `batch_size: "0"` meant the whole file in one batch: it still does (not
    an error), and the scores are the same."""
    rows = _rows_with_missing_values(tmp_path)
    expected = _score_with_dai_mlflow(machine, env_root, rows, tmp_path)
    out = tmp_path / "scored-whole.csv"
    parameters = {
        "scoring_dir": str(machine.sample.pipeline),
        "input_path": str(rows),
        "output_path": str(out),
        "keep_columns": "-id",
        "batch_size": "0",
    }
    run_id = _projects_run(
        Path(sys.executable), str(REPO), "score", parameters, tmp_path, machine.env(env_root)
    )
    _assert_same_scores(out, expected)
    assert _client(tmp_path).get_run(run_id).data.metrics["rows"] == 120


def _snapshot_repository(folder: Path) -> Tuple[Path, str]:
    """The working tree committed into a bare git repository; its folder and commit."""
    work = folder / "work"
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            target = work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    for argv in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
        subprocess.run([*git, *argv], cwd=work, check=True, capture_output=True)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=work, capture_output=True, text=True, check=True
    ).stdout.strip()
    bare = folder / "project.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    # Let clients fetch a commit by its id, as GitHub does (MLflow fetches `version` that way).
    subprocess.run(
        ["git", "config", "uploadpack.allowReachableSHA1InWant", "true"], cwd=bare, check=True
    )
    return bare, commit


@contextlib.contextmanager
def _git_server(bare: Path) -> Iterator[str]:
    """`git daemon` on 127.0.0.1 serving ``bare``; yields its git:// URI.

    (MLflow treats a file:// URI as a folder to use in place, so a remote is served for real.)
    """
    port = free_port()
    daemon = subprocess.Popen(
        ["git", "daemon", "--export-all", f"--base-path={bare.parent}", "--reuseaddr",
         "--listen=127.0.0.1", f"--port={port}", str(bare.parent)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"git://127.0.0.1:{port}/{bare.name}"
    finally:
        daemon.terminate()
        daemon.wait(timeout=15)


def test_projects_run_from_a_git_uri_with_a_version(
    machine: Machine, env_root: Path, tmp_path: Path
) -> None:
    bare, commit = _snapshot_repository(tmp_path / "git")
    rows = _rows_with_missing_values(tmp_path)
    expected = _score_with_dai_mlflow(machine, env_root, rows, tmp_path)
    out = tmp_path / "scored.csv"
    parameters = {
        "scoring_dir": str(machine.sample.pipeline),
        "input_path": str(rows),
        "output_path": str(out),
        "keep_columns": "-id",
    }
    with _git_server(bare) as uri:
        run_id = _projects_run(
            Path(sys.executable), uri, "score", parameters, tmp_path, machine.env(env_root), commit
        )
    _assert_same_scores(out, expected)
    assert _client(tmp_path).get_run(run_id).data.tags["mlflow.source.git.commit"] == commit


def test_projects_run_from_the_installed_wheels_project_path(
    machine: Machine, env_root: Path, installed_wheel: InstalledWheel, tmp_path: Path
) -> None:
    """A cluster that only ran `pip install`: `dai-mlflow project-path` is the Project."""
    env = machine.env(env_root, PATH=path_with(
        installed_wheel.venv / "bin", machine.uv_bin, _real_pyenv_root() / "bin"
    ))  # fmt: skip
    where = _run([installed_wheel.venv / "bin" / "dai-mlflow", "project-path"], tmp_path, env)
    project = where.stdout.strip()
    assert "site-packages" in project
    parameters = {"scoring_dir": str(machine.sample.pipeline), "registered_model_name": "m"}
    run_id = _projects_run(installed_wheel.python, project, "log_model", parameters, tmp_path, env)
    client = _client(tmp_path)
    assert client.get_run(run_id).info.status == "FINISHED"
    assert client.get_model_version("m", "1").run_id == run_id


def test_with_no_newer_mlflow_reachable_the_entry_point_fails_at_once(
    machine: Machine, project_env: PythonEnvironment, tmp_path: Path
) -> None:
    """Started by a Python without a newer MLflow, with none on PATH: one ERROR line naming the
    store and why, TIP lines with the fixes, within 10 s, and nothing logged."""
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=store)
    run = client.create_run("0")
    env = machine.env(
        tmp_path / "envs",
        PATH=path_with(),
        MLFLOW_TRACKING_URI=store,
        MLFLOW_RUN_ID=run.info.run_id,
    )
    starter = [
        project_env.python, "-c", "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"
    ]  # fmt: skip
    entry = [project_env.python, REPO / "entrypoints" / "log_model.py"]
    started = time.monotonic()
    done = subprocess.run(
        [str(a) for a in [*starter, *entry, f"--scoring-dir={machine.sample.pipeline}"]],
        cwd=REPO, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("ERROR: MLflow 2.17.2 in this Python 3.8 environment cannot open")
    assert store in lines[0] and "schema revision" in lines[0]
    assert len(lines) == 4 and all(line.startswith("TIP: ") for line in lines[1:]), lines
    assert elapsed < 10, elapsed
    assert client.list_artifacts(run.info.run_id) == []


def test_mlflow_run_validate_and_build_pyorc_like_the_other_entry_points(
    machine: Machine, env_root: Path, sample_factory: Callable[[str], SampleResult], tmp_path: Path
) -> None:
    """`validate` checks a model logged by `log_model` (runs:/, through the bridge) and logs its
    report to its own run; `build_pyorc` puts the wheel into a folder export."""
    env = machine.env(env_root)
    logged = _run(_log_model_argv(machine), tmp_path, env)
    model_uri = json.loads(logged.stdout.strip().splitlines()[-1])["model_uri"]
    validated = _run(
        [MLFLOW, "run", REPO, "-e", "validate", "-P", f"model_uri={model_uri}"], tmp_path, env
    )
    report = json.loads(validated.stdout.strip().splitlines()[-1])
    assert report["ok"] is True, report
    client = _client(tmp_path)
    runs = client.search_runs(
        ["0"], filter_string="tags.`h2o_dai_py_scoring_mlflow.validation` = 'passed'"
    )
    assert len(runs) == 1
    artifacts = [f.path for f in client.list_artifacts(runs[0].info.run_id, "validation")]
    assert artifacts == ["validation/report.json"]

    export = tmp_path / "scoring-pipeline"
    shutil.copytree(sample_factory("binary").pipeline, export)
    _run([MLFLOW, "run", REPO, "-e", "build_pyorc", "-P", f"scoring_dir={export}"], tmp_path, env)
    assert list(export.glob("pyorc-0.9.0-cp38-*.whl"))
    assert "pyorc==" not in (export / "requirements.txt").read_text()
