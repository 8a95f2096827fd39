"""Caller side: run the Project's ``log_model`` entry point inside its cached Python 3.8
environment, with the caller's tracking store bridged to it."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from ..errors import DaiMlflowError, LicenseRequiredError
from ..export.reading import open_export
from ..export.requirements import export_requirements
from ..export.schema import read_input_schema
from ..runtime import processes
from ..runtime.environments import EnvironmentSpec, PythonEnvironment, ensure_environment
from ..runtime.interpreters import resolve_interpreter
from ..runtime.project import project_dir, project_python_env
from ..settings import EXPERIMENT, UV, Settings
from .tracking import bridged_tracking_uri, caller_registry_uri


@dataclass(frozen=True)
class LogModelRequest:
    """What `dai-mlflow log-model` and ``log_driverless_scoring_pipeline`` were asked to do."""

    scoring_dir: str
    artifact_path: Optional[str] = None
    registered_model_name: Optional[str] = None
    apply_data_recipes: bool = False
    input_example: Optional[Path] = None
    experiment: Optional[str] = None
    tracking_uri: Optional[str] = None
    workdir: Optional[Path] = None


def project_environment(settings: Settings, *, echo: bool = False) -> PythonEnvironment:
    """The cached Python 3.8 environment of the MLflow Project (python_env.yaml + this package)."""
    python_env = project_python_env()
    resolution = resolve_interpreter(settings, pin=python_env.python)
    spec = EnvironmentSpec(
        interpreter=resolution.interpreter,
        requirements=python_env.dependencies,
        build_requirements=python_env.build_dependencies,
        include_tool=True,
        label="project",
    )
    return ensure_environment(spec, settings, echo=echo)


def preflight(settings: Settings, request: LogModelRequest) -> None:
    """Check on the caller side first, so bad input fails fast and before any 3.8 work."""
    with open_export(request.scoring_dir) as pipeline:
        read_input_schema(pipeline.folder)
        export_requirements(pipeline.folder)
    unity_catalog = caller_registry_uri().startswith("databricks-uc")
    if request.registered_model_name and unity_catalog and not settings.license_present:
        raise LicenseRequiredError()


def _absolute(location: str) -> str:
    return location if location.startswith("dbfs:/") else str(Path(location).expanduser().resolve())


def launch_log_model(
    settings: Settings,
    request: LogModelRequest,
    *,
    echo: bool = False,
    extra_env: Optional[Mapping[str, str]] = None,
) -> Dict[str, Any]:
    """Run the `log_model` entry point inside the Project's cached Python 3.8 environment.

    Returns the result record: run_id, model_uri, artifact_path, registered name and version.
    """
    preflight(settings, request)
    environment = project_environment(settings, echo=echo)
    extra: Dict[str, str] = dict(extra_env or {})
    uv = processes.find_uv(settings.uv)
    if uv is not None:
        extra[UV.name] = str(uv)
    if request.experiment:
        extra[EXPERIMENT.name] = request.experiment
    example = _absolute(str(request.input_example)) if request.input_example else ""
    with tempfile.TemporaryDirectory(prefix="dai-mlflow-log-") as scratch:
        result_file = Path(scratch) / "result.json"
        argv: List[processes.Arg] = [
            environment.python,
            project_dir() / "entrypoints" / "log_model.py",
            "--scoring-dir", _absolute(request.scoring_dir),
            "--artifact-path", request.artifact_path or "",
            "--registered-model-name", request.registered_model_name or "",
            "--apply-data-recipes", "true" if request.apply_data_recipes else "false",
            "--input-example", example,
            "--result-file", result_file,
        ]  # fmt: skip
        with bridged_tracking_uri(request.tracking_uri, cwd=request.workdir) as tracking_uri:
            extra["MLFLOW_TRACKING_URI"] = tracking_uri
            done = processes.run(
                argv,
                env=processes.child_environment(extra),
                cwd=request.workdir,
                echo=echo,
                check=False,
                echo_skip=("ERROR: ", "TIP: ", "{"),
            )
        if done.returncode != 0:
            raise _inside_failure(done.stdout or "", done.stderr or "")
        return dict(json.loads(result_file.read_text(encoding="utf-8")))


def _inside_failure(stdout: str, stderr: str) -> DaiMlflowError:
    """Re-raise the inside side's one-line ERROR/TIP as ours (or the tail of its output)."""
    lines = (stderr + "\n" + stdout).splitlines()
    error = next((line[len("ERROR: ") :] for line in lines if line.startswith("ERROR: ")), None)
    tip = next((line[len("TIP: ") :] for line in lines if line.startswith("TIP: ")), None)
    if error is not None:
        return DaiMlflowError(error, tip=tip)
    return DaiMlflowError(
        "log_model failed inside Python 3.8:\n" + "\n".join(lines[-30:]),
        tip="Rerun with --verbose for the full output.",
    )
