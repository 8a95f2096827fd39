"""The clean-environment rehearsal: restore a logged model from its own files and predict.

Builds a fresh Python 3.8 environment from nothing but the model's ``python_env.yaml`` and
``requirements.txt`` (wheel lines resolve against the model folder, as MLflow resolves them),
then runs MLflow 2.17's own ``mlflow models predict`` in it: what Serving will do, on a laptop.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import yaml

from ..errors import DaiMlflowError
from ..runtime import processes
from ..runtime.environments import EnvironmentSpec, PythonEnvironment, ensure_environment
from ..runtime.interpreters import resolve_interpreter
from ..scratch import scratch_dir
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


def rehearsal_environment(
    model_dir: Path, settings: Settings, *, echo: bool = False
) -> PythonEnvironment:
    """A fresh environment built only from the model's own files, with the Python it records."""
    python_env = _python_env(model_dir)
    version = str(python_env["python"])
    exact = replace(settings, python_strict=True, python_version=None)
    resolution = resolve_interpreter(exact, pin=version)
    spec = EnvironmentSpec(
        resolution.interpreter,
        tuple(model_requirement_lines(model_dir)),
        tuple(python_env.get("build_dependencies") or ()),
        label="rehearsal",
    )
    return ensure_environment(spec, settings, echo=echo)


def predict_with_mlflow(
    env: PythonEnvironment,
    model_dir: Path,
    split: Dict[str, Any],
    *,
    extra_env: Optional[Mapping[str, str]] = None,
) -> List[Dict[str, Any]]:
    """``mlflow models predict --env-manager local`` from ``env``; the predictions as records."""
    with scratch_dir("predict") as scratch:
        source, target = scratch / "input.json", scratch / "output.json"
        source.write_text(json.dumps({"dataframe_split": split}), encoding="utf-8")
        argv: List[processes.Arg] = [
            env.python, "-m", "mlflow", "models", "predict", "-m", model_dir,
            "-i", source, "-t", "json", "-o", target, "--env-manager", "local",
        ]  # fmt: skip
        processes.run(argv, env=processes.child_environment(extra_env), cwd=scratch)
        output = json.loads(target.read_text(encoding="utf-8"))
    predictions: List[Dict[str, Any]] = output["predictions"]
    return predictions
