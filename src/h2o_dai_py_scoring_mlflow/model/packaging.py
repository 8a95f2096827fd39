"""Build the pyfunc model of a DAI export. Runs inside Python 3.8 with MLflow 2.17.

``build_model`` reads the export, writes the model's environment files with their provenance,
scores the input example with the export's own scorer in the model's own environment (for a
signature with inputs *and* outputs) and saves the pyfunc model into a folder.
``log_driverless_scoring_pipeline`` builds it and logs it here (:mod:`.record`); the launcher has
it built here and logs it with the caller's own MLflow instead.
"""

from __future__ import annotations

import importlib
import json
import logging
import platform
import shutil
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import pandas as pd

from ..errors import ExportError, LicenseRequiredError
from ..export.files import select_export_files
from ..export.reading import ScoringPipeline, example_frame, open_export
from ..export.requirements import (
    ModelRequirements,
    model_requirements,
    render_conda_yaml,
    render_python_env,
    render_requirements_txt,
)
from ..export.schema import InputSchema, read_input_schema
from ..runtime.environments import EnvironmentSpec, ensure_environment
from ..runtime.interpreters import Interpreter, PythonVersion
from ..runtime.project import project_python_env, shims_dir
from ..runtime.scorer import ExampleScores, score_frame
from ..scratch import scratch_dir
from ..settings import Settings, load_settings
from ..version import __version__
from .record import BuiltModel, LoggedModel, log_built_model

LOG = logging.getLogger(__name__)
EXAMPLE_ROWS = 5
WRAPPER_MODULE = "h2o_dai_pyfunc_model"


def _current_interpreter() -> Interpreter:
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    return Interpreter(base, PythonVersion.parse(platform.python_version()), "current")


def _read_example(
    pipeline: ScoringPipeline, schema: InputSchema, path: Optional[Path]
) -> pd.DataFrame:
    if path is None:
        frame = example_frame(pipeline.example_py)
    elif path.suffix.lower() == ".json":
        frame = pd.read_json(path, orient="records")
    else:
        frame = pd.read_csv(path)
    missing = [name for name in schema.names if name not in frame.columns]
    if missing:
        raise ExportError(
            f"The input example {path or pipeline.example_py} lacks column(s): "
            f"{', '.join(missing)}.",
            tip="Give an input example with every input column of the export.",
        )
    frame = frame[schema.names].head(EXAMPLE_ROWS).reset_index(drop=True)
    # The signature's doubles, exactly (MLflow will not convert int64 to float64 by itself).
    for column in schema.columns:
        if column.mlflow_type != "double":
            continue
        try:
            frame[column.name] = frame[column.name].astype("float64")
        except (TypeError, ValueError):
            raise ExportError(
                f"The input example {path or pipeline.example_py}: column {column.name!r} holds "
                f"values that are not numbers, but the export's schema says {column.dtype}.",
                tip="Give an input example whose numeric columns hold numbers (or are empty).",
            ) from None
    return frame


def _signature(schema: InputSchema, outputs: Optional[List[str]], apply_data_recipes: bool) -> Any:
    from mlflow.models.signature import ModelSignature  # noqa: PLC0415  # inside side only
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema  # noqa: PLC0415

    inputs = Schema([ColSpec(c.mlflow_type, c.name, required=c.required) for c in schema.columns])
    output_schema = Schema([ColSpec("double", name) for name in outputs]) if outputs else None
    params = ParamSchema(
        [
            ParamSpec("apply_data_recipes", "boolean", apply_data_recipes),
            ParamSpec("output_margin", "boolean", False),
            ParamSpec("pred_contribs", "boolean", False),
            ParamSpec("pred_contribs_original", "boolean", False),
            ParamSpec("fast_approx", "boolean", False),
        ]
    )
    return ModelSignature(inputs=inputs, outputs=output_schema, params=params)


def _registry_is_unity_catalog() -> bool:
    import mlflow  # noqa: PLC0415

    return str(mlflow.get_registry_uri()).startswith("databricks-uc")


def model_requirements_for(folder: Path, settings: Settings, source: str) -> ModelRequirements:
    """The model's requirements for this interpreter and settings."""
    return model_requirements(
        folder,
        source=source,
        python_version=platform.python_version(),
        build_requirements=project_python_env().build_dependencies,
        exclude=settings.exclude_packages,
        env_yaml_allowlist=settings.env_yaml_pip_allowlist,
        importlib_resources_version=settings.importlib_resources_version,
        pyspark_version=settings.pyspark_version,
        psutil_version=settings.psutil_version,
        openblas_version=settings.openblas_version,
        libmagic=settings.libmagic,
    )


def score_in_model_environment(
    settings: Settings,
    reqs: ModelRequirements,
    folder: Path,
    frame: pd.DataFrame,
    *,
    extra_env: Optional[Mapping[str, str]] = None,
) -> ExampleScores:
    """Score ``frame`` with the export's scorer inside the model's own environment."""
    spec = EnvironmentSpec(
        _current_interpreter(),
        reqs.install_lines(folder),
        reqs.build_requirements,
        include_tool=True,
        label="model",
    )
    env = ensure_environment(spec, settings)
    split = json.loads(frame.to_json(orient="split", index=False))
    return score_frame(env, folder, split, extra_env=extra_env)


def _copy_export_files(folder: Path, target: Path) -> None:
    """Copy the export's own files (never a license, never a link) and say what was left out."""
    selected = select_export_files(folder)
    target.mkdir(parents=True)
    for source in selected.files:
        shutil.copy2(source, target / source.name)
    for name, reason in selected.left_out:
        LOG.warning("Not stored in the model: %s (%s)", name, reason)


def _stage_wrapper(stage: Path) -> Any:
    """Import the wrapper under its in-model module name so it pickles by reference."""
    target = stage / f"{WRAPPER_MODULE}.py"
    shutil.copy(Path(__file__).with_name("wrapper.py"), target)
    sys.path.insert(0, str(stage))
    try:
        sys.modules.pop(WRAPPER_MODULE, None)
        module = importlib.import_module(WRAPPER_MODULE)
    finally:
        sys.path.remove(str(stage))
    return module.DaiScoringPipelineModel()


def save_model(
    pipeline: ScoringPipeline,
    target: Path,
    *,
    settings: Settings,
    source: str,
    apply_data_recipes: bool = False,
    input_example: Optional[Path] = None,
    extra_env: Optional[Mapping[str, str]] = None,
    outputs_required: bool = False,
) -> List[str]:
    """Write the pyfunc model of ``pipeline`` into ``target``; return the output columns.

    Without a license the signature has no outputs; ``outputs_required`` (Unity Catalog) makes
    that an error instead of a warning."""
    import mlflow.pyfunc  # noqa: PLC0415  # inside side only

    schema = read_input_schema(pipeline.folder)
    example = _read_example(pipeline, schema, input_example)
    reqs = model_requirements_for(pipeline.folder, settings, source)
    outputs: Optional[List[str]] = None
    if settings.license_present:
        scores = score_in_model_environment(
            settings, reqs, pipeline.folder, example, extra_env=extra_env
        )
        outputs = scores.columns
    elif outputs_required:
        raise LicenseRequiredError()
    else:
        LOG.warning("No DAI license found: the model's signature has inputs but no outputs.")
    with scratch_dir("stage") as stage:
        artifacts = stage / "scoring-pipeline"
        _copy_export_files(pipeline.folder, artifacts)
        config: Dict[str, Any] = {
            "scorer_module": pipeline.scorer_module,
            "apply_data_recipes": apply_data_recipes,
            "inputs": [{"name": c.name, "type": c.mlflow_type} for c in schema.columns],
            "tool_version": __version__,
            "source": source,
        }
        mlflow.pyfunc.save_model(
            path=str(target),
            python_model=_stage_wrapper(stage),
            artifacts={"scoring-pipeline": str(artifacts)},
            code_paths=[str(stage / f"{WRAPPER_MODULE}.py"), str(shims_dir() / "h2o_dai_shims.py")],
            signature=_signature(schema, outputs, apply_data_recipes),
            input_example=example,
            pip_requirements=[reqs.lines[-1].text],
            model_config=config,
        )
    (target / "requirements.txt").write_text(render_requirements_txt(reqs, __version__))
    (target / "python_env.yaml").write_text(render_python_env(reqs, __version__))
    (target / "conda.yaml").write_text(render_conda_yaml(reqs, __version__))
    return outputs or []


def build_model(
    scoring_pipeline_dir: str,
    target: Path,
    *,
    settings: Settings,
    apply_data_recipes: bool = False,
    input_example: Optional[Path] = None,
    extra_env: Optional[Mapping[str, str]] = None,
    outputs_required: bool = False,
) -> BuiltModel:
    """Save the pyfunc model of the export at ``scoring_pipeline_dir`` into ``target``."""
    source = Path(scoring_pipeline_dir).name
    with open_export(scoring_pipeline_dir) as pipeline:
        outputs = save_model(
            pipeline,
            target,
            settings=settings,
            source=source,
            apply_data_recipes=apply_data_recipes,
            input_example=input_example,
            extra_env=extra_env,
            outputs_required=outputs_required,
        )
        return BuiltModel(pipeline.scorer_module, source, outputs)


def log_driverless_scoring_pipeline(
    scoring_pipeline_dir: str,
    *,
    artifact_path: Optional[str] = None,
    registered_model_name: Optional[str] = None,
    apply_data_recipes: bool = False,
    input_example: Optional[Path] = None,
    settings: Optional[Settings] = None,
    extra_env: Optional[Mapping[str, str]] = None,
) -> LoggedModel:
    """Build the export's pyfunc model and log it with this process's MLflow (inside 3.8)."""
    settings = settings or load_settings()
    with scratch_dir("model") as scratch:
        built = build_model(
            scoring_pipeline_dir,
            scratch / "model",
            settings=settings,
            apply_data_recipes=apply_data_recipes,
            input_example=input_example,
            extra_env=extra_env,
            outputs_required=_registry_is_unity_catalog(),
        )
        return log_built_model(
            scratch / "model",
            built,
            artifact_path=artifact_path or settings.artifact_path,
            registered_model_name=registered_model_name,
            experiment=settings.experiment,
        )
