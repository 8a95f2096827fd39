"""Caller side: have the Project's ``log_model`` entry point build the model inside its cached
Python 3.8 environment (``--model-dir``: build only, no tracking), for the caller to log with its
own MLflow. The 3.8 side never sees the caller's tracking store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

from ..errors import DaiMlflowError, LicenseRequiredError
from ..export.files import select_export_files
from ..export.reading import open_export
from ..export.requirements import export_requirements
from ..export.schema import read_input_schema
from ..runtime import processes
from ..runtime.environments import EnvironmentSpec, PythonEnvironment, ensure_environment
from ..runtime.interpreters import resolve_interpreter
from ..runtime.project import project_dir, project_python_env
from ..settings import UV, Settings
from .tracking import caller_registry_uri


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
        select_export_files(pipeline.folder)
    unity_catalog = (caller_registry_uri() or "").startswith("databricks-uc")
    if request.registered_model_name and unity_catalog and not settings.license_present:
        raise LicenseRequiredError()


def _absolute(location: str) -> str:
    return location if location.startswith("dbfs:/") else str(Path(location).expanduser().resolve())


@dataclass(frozen=True)
class BuildCommand:
    """The `log_model` entry point's build-only run inside Python 3.8, ready to start."""

    argv: Tuple[processes.Arg, ...]
    env: Dict[str, str]
    workdir: Path
    result_file: Path


def build_command(
    settings: Settings,
    request: LogModelRequest,
    model_dir: Path,
    workdir: Path,
    *,
    echo: bool = False,
    extra_env: Optional[Mapping[str, str]] = None,
    python: Optional[Path] = None,
) -> BuildCommand:
    """Check ``request`` and find (or build) the 3.8 environment: everything but the run, which
    builds the model into ``model_dir`` from ``workdir`` (a scratch folder the caller owns)."""
    preflight(settings, request)
    extra: Dict[str, str] = dict(extra_env or {})
    uv = processes.find_uv(settings.uv)
    if uv is not None:
        extra[UV.name] = str(uv)
    # MLflow 2.17's save_model opens the default store: a throwaway one in the scratch folder.
    extra["MLFLOW_TRACKING_URI"] = (workdir / "unused-store").as_uri()
    inside = python or project_environment(settings, echo=echo).python
    example = _absolute(str(request.input_example)) if request.input_example else ""
    result_file = workdir / "result.json"
    argv: List[processes.Arg] = [
        inside,
        project_dir() / "entrypoints" / "log_model.py",
        f"--scoring-dir={_absolute(request.scoring_dir)}",
        f"--apply-data-recipes={'true' if request.apply_data_recipes else 'false'}",
        f"--input-example={example}",
        f"--model-dir={model_dir}",
        f"--result-file={result_file}",
    ]
    env = processes.child_environment(extra, drop=_TRACKING_VARIABLES)
    return BuildCommand(tuple(argv), env, workdir, result_file)


def run_build(command: BuildCommand, *, echo: bool = False) -> str:
    """Run ``command``; return its build record (``BuiltModel`` JSON)."""
    done = processes.run(
        command.argv,
        env=command.env,
        cwd=command.workdir,
        echo=echo,
        check=False,
        echo_skip=("ERROR: ", "TIP: ", "{"),
    )
    if done.returncode != 0:
        raise _inside_failure(done.stdout or "", done.stderr or "")
    return command.result_file.read_text(encoding="utf-8")


# The 3.8 side only builds: it must not see, let alone open, the caller's tracking store.
_TRACKING_VARIABLES = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_REGISTRY_URI",
    "MLFLOW_RUN_ID",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_NAME",
)


def _inside_failure(stdout: str, stderr: str) -> DaiMlflowError:
    """Re-raise the inside side's one-line ERROR/TIP as ours (or the tail of its output)."""
    lines = (stderr + "\n" + stdout).splitlines()
    error = next((line[len("ERROR: ") :] for line in lines if line.startswith("ERROR: ")), None)
    tip = next((line[len("TIP: ") :] for line in lines if line.startswith("TIP: ")), None)
    if error is not None:
        return DaiMlflowError(error, tip=tip)
    return DaiMlflowError(
        "Building the model inside Python 3.8 failed:\n" + "\n".join(lines[-30:]),
        tip="Rerun with --verbose for the full output.",
    )
