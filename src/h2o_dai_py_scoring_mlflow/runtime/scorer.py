"""Run an export's own scorer: the cached Python 3.8 scoring environment, and one frame scored
in it (by :mod:`.frame_scoring`, its inside half).

Runs on the caller's Python and in the Project environment (packaging scores the input example
for the model's signature).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ..errors import DaiMlflowError
from ..export.reading import open_pipeline_folder
from ..export.requirements import export_requirements
from ..scratch import scratch_dir
from ..settings import Settings
from . import processes
from .environments import EnvironmentSpec, PythonEnvironment, ensure_environment
from .interpreters import Resolution, resolve_interpreter
from .project import project_python_env, shims_dir

# Added to every scoring environment: the 3.9+ importlib.resources API for Python 3.8 (shim).
COMPATIBILITY_PINS = ("importlib-resources==5.12.0",)
FRAME_SCORING_MODULE = "h2o_dai_py_scoring_mlflow.runtime.frame_scoring"


@dataclass(frozen=True)
class ScoringEnvironment:
    """The interpreter chosen and the environment that runs an export's scorer."""

    resolution: Resolution
    environment: PythonEnvironment


@dataclass(frozen=True)
class ExampleScores:
    """A frame scored inside the 3.8 environment."""

    inputs: List[str]
    columns: List[str]
    rows: List[List[float]]
    shims: List[str]


def scoring_environment(
    settings: Settings,
    pipeline_folder: Path,
    *,
    echo: bool = False,
    extra_requirements: Sequence[str] = (),
) -> ScoringEnvironment:
    """Resolve Python 3.8 and build (or reuse) the environment for the export in a folder."""
    python_env = project_python_env()
    resolution = resolve_interpreter(settings, pin=python_env.python)
    requirements = export_requirements(pipeline_folder)
    spec = EnvironmentSpec(
        interpreter=resolution.interpreter,
        requirements=requirements.install + COMPATIBILITY_PINS + tuple(extra_requirements),
        build_requirements=python_env.build_dependencies,
        include_tool=True,
        label="scoring",
    )
    return ScoringEnvironment(resolution, ensure_environment(spec, settings, echo=echo))


def score_frame(
    environment: PythonEnvironment,
    pipeline_folder: Path,
    frame_split: Dict[str, Any],
    *,
    extra_env: Optional[Mapping[str, str]] = None,
    workdir: Optional[Path] = None,
) -> ExampleScores:
    """Score a frame (``{"columns": [...], "data": [...]}``) with the export's Scorer inside
    ``environment``, which must have the export's wheels installed."""
    pipeline = open_pipeline_folder(pipeline_folder)
    with scratch_dir("score") as scratch:
        frame_file = scratch / "frame.json"
        frame_file.write_text(json.dumps(frame_split), encoding="utf-8")
        argv: List[processes.Arg] = [
            environment.python, "-m", FRAME_SCORING_MODULE,
            "--scorer-module", pipeline.scorer_module,
            "--shims", shims_dir(),
            "--frame", frame_file,
        ]  # fmt: skip
        done = processes.run(
            argv, env=processes.child_environment(extra_env), cwd=workdir or scratch
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
