"""Caller side: provision the Python 3.8 environment for an export and run code inside it."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from . import processes
from .environments import EnvironmentSpec, PythonEnvironment, ensure_environment
from .errors import DaiMlflowError
from .interpreters import Resolution, resolve_interpreter
from .pipeline import open_pipeline_folder
from .project import project_python_env, shims_dir
from .requirements import export_requirements
from .settings import Settings

# Added to every scoring environment: the 3.9+ importlib.resources API for Python 3.8 (shim).
COMPATIBILITY_PINS = ("importlib-resources==5.12.0",)


@dataclass(frozen=True)
class ScoringEnvironment:
    """The interpreter chosen and the environment that runs an export's scorer."""

    resolution: Resolution
    environment: PythonEnvironment


@dataclass(frozen=True)
class ExampleScores:
    """example.py's rows scored inside the 3.8 environment."""

    inputs: List[str]
    columns: List[str]
    rows: List[List[float]]
    shims: List[str]


def scoring_environment(
    settings: Settings, pipeline_folder: Path, *, echo: bool = False
) -> ScoringEnvironment:
    """Resolve Python 3.8 and build (or reuse) the environment for the export in a folder."""
    python_env = project_python_env()
    resolution = resolve_interpreter(settings, pin=python_env.python)
    requirements = export_requirements(pipeline_folder)
    spec = EnvironmentSpec(
        interpreter=resolution.interpreter,
        requirements=requirements.install + COMPATIBILITY_PINS,
        build_requirements=python_env.build_dependencies,
        include_tool=True,
        label="scoring",
    )
    return ScoringEnvironment(resolution, ensure_environment(spec, settings, echo=echo))


def score_examples(
    environment: PythonEnvironment,
    pipeline_folder: Path,
    *,
    extra_env: Optional[Mapping[str, str]] = None,
    workdir: Optional[Path] = None,
) -> ExampleScores:
    """Score example.py's rows with the export's own Scorer inside ``environment``."""
    open_pipeline_folder(pipeline_folder)
    argv: List[processes.Arg] = [
        environment.python,
        "-m",
        "h2o_dai_py_scoring_mlflow.example_scoring",
        "--pipeline",
        pipeline_folder,
        "--shims",
        shims_dir(),
    ]
    with tempfile.TemporaryDirectory(prefix="dai-mlflow-score-") as scratch:
        done = processes.run(
            argv, env=processes.child_environment(extra_env), cwd=workdir or Path(scratch)
        )
    data: Dict[str, Any] = _last_json_line(done.stdout)
    return ExampleScores(data["inputs"], data["columns"], data["rows"], data["shims"])


def _last_json_line(output: str) -> Dict[str, Any]:
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            parsed = json.loads(line)
            if isinstance(parsed, dict):
                return parsed
    raise DaiMlflowError(f"The scorer printed no result; its output was:\n{output[-2000:]}")
