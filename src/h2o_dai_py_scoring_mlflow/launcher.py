"""Caller side: provision the Python 3.8 environment for an export and run code inside it."""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence

from . import processes
from .environments import EnvironmentSpec, PythonEnvironment, ensure_environment
from .errors import DaiMlflowError, LicenseRequiredError
from .interpreters import Resolution, resolve_interpreter
from .pipeline import open_export, open_pipeline_folder
from .project import project_dir, project_python_env, shims_dir
from .requirements import export_requirements
from .schema import read_input_schema
from .settings import EXPERIMENT, UV, Settings
from .tracking import bridged_tracking_uri, caller_registry_uri

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
    *,
    frame_split: Optional[Dict[str, Any]] = None,
    extra_env: Optional[Mapping[str, str]] = None,
    workdir: Optional[Path] = None,
) -> ExampleScores:
    """Score a frame (default: example.py's rows) with the export's Scorer inside ``environment``.

    ``frame_split`` is a ``{"columns": [...], "data": [...]}`` dict.
    """
    open_pipeline_folder(pipeline_folder)
    with tempfile.TemporaryDirectory(prefix="dai-mlflow-score-") as scratch:
        argv: List[processes.Arg] = [
            environment.python,
            "-m",
            "h2o_dai_py_scoring_mlflow.example_scoring",
            "--pipeline",
            pipeline_folder,
            "--shims",
            shims_dir(),
        ]
        if frame_split is not None:
            frame_file = Path(scratch) / "frame.json"
            frame_file.write_text(json.dumps(frame_split), encoding="utf-8")
            argv += ["--frame", frame_file]
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


def _inline_capable() -> bool:
    """True on a Python 3.8 that has MLflow 2.17 (the inside side itself)."""
    if sys.version_info[:2] != (3, 8):
        return False
    try:
        version = importlib.metadata.version("mlflow")
    except importlib.metadata.PackageNotFoundError:
        return False
    return version.startswith("2.17.")


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


def log_model(
    settings: Settings,
    request: LogModelRequest,
    *,
    echo: bool = False,
    extra_env: Optional[Mapping[str, str]] = None,
) -> Dict[str, Any]:
    """Run `log_model` inline on a capable 3.8, else inside the Project's cached 3.8 environment.

    Returns the result record: run_id, model_uri, artifact_path, registered name and version.
    """
    if _inline_capable():
        from .packaging import log_driverless_scoring_pipeline  # noqa: PLC0415  # needs mlflow

        inline = replace(settings, experiment=request.experiment or settings.experiment)
        with _tracking_uri_set(request.tracking_uri):
            logged = log_driverless_scoring_pipeline(
                request.scoring_dir,
                artifact_path=request.artifact_path,
                registered_model_name=request.registered_model_name,
                apply_data_recipes=request.apply_data_recipes,
                input_example=request.input_example,
                settings=inline,
                extra_env=extra_env,
            )
        return dict(json.loads(logged.to_json()))
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


@contextlib.contextmanager
def _tracking_uri_set(uri: Optional[str]) -> Iterator[None]:
    """Inline only: use ``uri`` for the duration of the block, then restore the previous one."""
    if uri is None:
        yield
        return
    import mlflow  # noqa: PLC0415  # inline means this is the 3.8 side with MLflow 2.17

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)


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
