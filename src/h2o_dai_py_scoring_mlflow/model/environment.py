"""The environment a logged model runs in, built from nothing but its own files.

A fresh Python 3.8 environment from the model's ``python_env.yaml`` (the Python it records,
exactly) and ``requirements.txt`` (wheel lines resolve against the model folder, as MLflow
resolves them), cached and locked like every other environment. The clean-environment
rehearsal, ``dai-mlflow serve`` and the scoring worker all run the model in it.

Runs on the caller's Python (and in the Project environment under ``mlflow run``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List

import yaml

from ..errors import DaiMlflowError
from ..runtime.environments import EnvironmentSpec, PythonEnvironment, ensure_environment
from ..runtime.interpreters import Interpreter, resolve_interpreter
from ..settings import Settings


class ModelFilesError(DaiMlflowError):
    """A logged model lacks the environment files the rehearsal needs."""


def model_requirement_lines(model_dir: Path) -> List[str]:
    """requirements.txt lines without comments, wheel paths made absolute under ``model_dir``."""
    path = model_dir / "requirements.txt"
    if not path.is_file():
        raise ModelFilesError(f"{path} is missing.", tip="Log the model with dai-mlflow log-model.")
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(str(model_dir / line) if line.startswith("artifacts/") else line)
    return lines


def _python_env(model_dir: Path) -> Dict[str, Any]:
    python_env_file = model_dir / "python_env.yaml"
    try:
        python_env = yaml.safe_load(python_env_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ModelFilesError(f"{python_env_file}: cannot be read ({exc}).") from None
    if not isinstance(python_env, dict) or not python_env.get("python"):
        raise ModelFilesError(f"{python_env_file}: no `python` version in it.")
    return python_env


def model_python_version(model_dir: Path) -> str:
    """The Python version the model records (python_env.yaml), e.g. 3.8.18."""
    return str(_python_env(model_dir)["python"])


def model_interpreter(model_dir: Path, settings: Settings) -> Interpreter:
    """This machine's Python of exactly the version the model records."""
    exact = replace(settings, python_strict=True, python_version=None)
    return resolve_interpreter(exact, pin=model_python_version(model_dir)).interpreter


def model_environment(
    model_dir: Path, settings: Settings, *, echo: bool = False
) -> PythonEnvironment:
    """A fresh environment built only from the model's own files, with the Python it records."""
    python_env = _python_env(model_dir)
    spec = EnvironmentSpec(
        model_interpreter(model_dir, settings),
        tuple(model_requirement_lines(model_dir)),
        tuple(python_env.get("build_dependencies") or ()),
        label="rehearsal",
    )
    return ensure_environment(spec, settings, echo=echo)
