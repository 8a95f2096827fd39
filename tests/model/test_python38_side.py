"""The library runs on the inside: every module imports under Python 3.8 in the Project's own
environment (python_env.yaml: mlflow 2.17.2), and the sample builder works there too."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import pytest

import h2o_dai_py_scoring_mlflow
from h2o_dai_py_scoring_mlflow.runtime import processes
from h2o_dai_py_scoring_mlflow.runtime.environments import (
    PythonEnvironment,
)

pytestmark = pytest.mark.slow


def _modules() -> list:
    prefix = h2o_dai_py_scoring_mlflow.__name__ + "."
    found = pkgutil.walk_packages(h2o_dai_py_scoring_mlflow.__path__, prefix)
    return sorted(m.name for m in found if ".wheel_sources." not in m.name)


def test_project_env_has_mlflow_2_17_2(project_env: PythonEnvironment) -> None:
    code = "import mlflow, sys; print(mlflow.__version__, '%d.%d' % sys.version_info[:2])"
    assert processes.run([project_env.python, "-c", code]).stdout.split() == ["2.17.2", "3.8"]


def test_every_library_module_imports_under_python38(project_env: PythonEnvironment) -> None:
    modules = _modules()
    assert "h2o_dai_py_scoring_mlflow.runtime.interpreters" in modules
    code = (
        "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\nprint('ok')"
    )
    done = processes.run([project_env.python, "-W", "error::SyntaxWarning", "-c", code, *modules])
    assert done.stdout.strip() == "ok"


def test_sample_builder_runs_under_python38(project_env: PythonEnvironment, tmp_path: Path) -> None:
    out = tmp_path / "sample"
    argv = [
        project_env.python,
        "-m",
        "h2o_dai_py_scoring_mlflow.cli",
        "sample",
        "--kind",
        "multiclass",
    ]
    done = processes.run([*argv, "--out", out, "--rows", "300"])
    assert "scoring pipeline:" in done.stdout
    assert (out / "scoring-pipeline" / "example.py").is_file()
