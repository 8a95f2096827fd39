"""Shared fixtures: a hermetic process environment, the real Python 3.8, sample exports, envs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator

import pytest

from h2o_dai_py_scoring_mlflow.runtime.environments import (
    EnvironmentSpec,
    PythonEnvironment,
    ensure_environment,
)
from h2o_dai_py_scoring_mlflow.runtime.interpreters import Interpreter, resolve_interpreter
from h2o_dai_py_scoring_mlflow.runtime.project import project_python_env
from h2o_dai_py_scoring_mlflow.runtime.scorer import ScoringEnvironment, scoring_environment
from h2o_dai_py_scoring_mlflow.samples import SampleResult, build_sample
from h2o_dai_py_scoring_mlflow.settings import load_settings

_STRIPPED_PREFIXES = ("PIP_", "UV_", "MLFLOW_", "DATABRICKS_", "DRIVERLESS_AI_", "H2O_DAI_MLFLOW_")
REPO = Path(__file__).resolve().parents[1]
HELPERS = Path(__file__).resolve().parent / "helpers"


@pytest.fixture(scope="session")
def env_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One environment cache for the whole session (builds are shared between tests)."""
    return tmp_path_factory.mktemp("envs")


@pytest.fixture(autouse=True)
def hermetic_environment(monkeypatch: pytest.MonkeyPatch, env_root: Path) -> None:
    """No user settings leak in; environments go to the session cache; no downloads tried."""
    pyenv_root = _real_pyenv_root()
    for name in list(os.environ):
        if name.startswith(_STRIPPED_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MLFLOW_ENV_ROOT", str(env_root))
    monkeypatch.setenv("PYENV_ROOT", str(pyenv_root))
    monkeypatch.setenv("H2O_DAI_MLFLOW_PYTHON_DOWNLOADS", "never")
    # pyspark 3.3.2 is a 280 MB source build; one test checks the default pin, the rest skip it.
    monkeypatch.setenv("H2O_DAI_MLFLOW_PYSPARK_VERSION", "none")


def _real_pyenv_root() -> Path:
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


@pytest.fixture(scope="session")
def python38() -> Interpreter:
    """The real Python 3.8 of this machine (any 3.8.x), found the way users' machines find it."""
    settings = load_settings(
        {"MLFLOW_ENV_ROOT": "/nonexistent", "H2O_DAI_MLFLOW_PYTHON_DOWNLOADS": "never"}
    )
    return resolve_interpreter(settings, pin="3.8").interpreter


@pytest.fixture(scope="session")
def sample_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], SampleResult]:
    """Build each kind of sample once per session."""
    cache: Dict[str, SampleResult] = {}

    def make(kind: str) -> SampleResult:
        if kind not in cache:
            cache[kind] = build_sample(kind, tmp_path_factory.mktemp(f"sample-{kind}"), rows=1500)
        return cache[kind]

    return make


@pytest.fixture(scope="session")
def scoring_env_factory(
    env_root: Path, sample_factory: Callable[[str], SampleResult]
) -> Iterator[Callable[[str], ScoringEnvironment]]:
    """The real Python 3.8 scoring environment of each sample kind, built once per session."""
    cache: Dict[str, ScoringEnvironment] = {}
    settings = load_settings(
        {"MLFLOW_ENV_ROOT": str(env_root), "H2O_DAI_MLFLOW_PYTHON_DOWNLOADS": "never"}
    )

    def make(kind: str) -> ScoringEnvironment:
        if kind not in cache:
            cache[kind] = scoring_environment(settings, sample_factory(kind).pipeline)
        return cache[kind]

    yield make


@dataclass(frozen=True)
class InstalledWheel:
    """This package built with `uv build` and installed alone into a new venv of this Python."""

    wheel: Path
    venv: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


@pytest.fixture(scope="session")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> InstalledWheel:
    folder = tmp_path_factory.mktemp("wheel")
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or "uv"
    built = subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(folder / "dist"), str(REPO)],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    wheel = next((folder / "dist").glob("*.whl"))
    venv = folder / "venv"
    for argv in (
        [uv, "venv", "--python", sys.executable, str(venv)],
        [uv, "pip", "install", "--python", str(venv / "bin" / "python"), str(wheel)],
    ):
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
    return InstalledWheel(wheel, venv)


def licensed_env(license_file: Path, home: Path) -> Dict[str, str]:
    """Variables for a scorer child process: a license file and a HOME without one."""
    return {"DRIVERLESS_AI_LICENSE_FILE": str(license_file), "HOME": str(home)}


@pytest.fixture(scope="session")
def project_env(python38: Interpreter, env_root: Path) -> PythonEnvironment:
    """The MLflow Project's own Python 3.8 environment (python_env.yaml + this package)."""
    spec = project_python_env()
    return ensure_environment(
        EnvironmentSpec(
            python38, spec.dependencies, spec.build_dependencies, include_tool=True, label="project"
        ),
        load_settings({"MLFLOW_ENV_ROOT": str(env_root)}),
    )


@pytest.fixture(scope="session")
def logged_binary_model(
    tmp_path_factory: pytest.TempPathFactory,
    sample_factory: Callable[[str], SampleResult],
    env_root: Path,
) -> Path:
    """A binary model logged by `dai-mlflow log-model` (from this Python, MLflow 3.x) into an
    empty folder's default store; its folder. Tests that change it work on a copy."""
    import json

    import mlflow
    from helpers.cli import cli_env, dai_mlflow

    folder = tmp_path_factory.mktemp("logged-binary")
    sample = sample_factory("binary")
    env = cli_env(env_root, DRIVERLESS_AI_LICENSE_FILE=str(sample.license_file))
    done = dai_mlflow(["log-model", str(sample.pipeline), "--json"], folder, env)
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout.strip().splitlines()[-1])["run_id"]
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")
    uri = client.get_run(run_id).info.artifact_uri
    return Path(uri.replace("file://", "")) / "h2o_dai_scoring_pyfunc"
