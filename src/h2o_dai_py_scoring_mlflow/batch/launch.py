"""Batch scoring from any caller: find the export, provision its 3.8 environment, run it there.

The source is an export (``scoring_dir``: folder, scorer.zip or dbfs:/ path) or a model logged by
this package (``model_uri``: ``runs:/``, ``models:/``, or a local model folder; remote ones are
downloaded with the caller's MLflow). Either way the export's own scorer runs in the cached
scoring environment, through :mod:`.inside`, in the foreground: its progress shows on our
stderr and it stops when we stop. When an MLflow run is active, rows, seconds and rows/s are
logged to it as metrics.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from ..bridge.tracking import log_run_metrics
from ..errors import DaiMlflowError, ScoreInputError
from ..export.reading import example_columns, local_path, open_export, open_pipeline_folder
from ..export.requirements import export_requirements
from ..export.schema import read_input_schema
from ..model.location import open_model
from ..runtime import processes
from ..runtime.project import shims_dir
from ..runtime.scorer import scoring_environment
from ..scratch import scratch_dir
from ..settings import BATCH_SIZE, PYARROW_VERSION, Settings
from .job import BatchJob, ColumnSpec, ExampleValue, ScorerJob, check_paths

INSIDE_MODULE = "h2o_dai_py_scoring_mlflow.batch.inside"


LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoreRequest:
    """What `dai-mlflow score`, the `score` entry point and the Python API were asked to do."""

    input_path: str
    output_path: str
    scoring_dir: Optional[str] = None
    model_uri: Optional[str] = None
    batch_size: Optional[int] = None
    apply_data_recipes: Optional[bool] = None
    keep_columns: Tuple[str, ...] = ()


@dataclass(frozen=True)
class ScoreSummary:
    """The finished run: rows, time, where the output went, and the run that got the metrics."""

    rows: int
    batches: int
    seconds: float
    rows_per_second: float
    output_path: str
    prediction_columns: List[str]
    ignored_columns: List[str] = field(default_factory=list)
    batch_size: int = 0
    peak_memory_mib: float = 0.0
    metrics_run_id: Optional[str] = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))


@dataclass(frozen=True)
class _Source:
    pipeline: Path
    apply_data_recipes: bool


def _check_request(request: ScoreRequest) -> None:
    if bool(request.scoring_dir) == bool(request.model_uri):
        raise ScoreInputError(
            "Pass exactly one of scoring_dir (a DAI export) and model_uri (a logged model).",
            tip="e.g. --scoring-dir scorer.zip, or --model-uri models:/name/1.",
        )


@contextlib.contextmanager
def _export_source(scoring_dir: str) -> Iterator[_Source]:
    with open_export(scoring_dir) as pipeline:
        yield _Source(pipeline.folder, False)


@contextlib.contextmanager
def _model_source(model_uri: str) -> Iterator[_Source]:
    with open_model(model_uri) as model:
        yield _Source(model.pipeline, model.apply_data_recipes)


def _extra_requirements(settings: Settings, pipeline: Path, parquet: bool) -> Tuple[str, ...]:
    if not parquet or export_requirements(pipeline).installs("pyarrow"):
        return ()
    if not settings.pyarrow_version:
        raise ScoreInputError(
            "Parquet files need pyarrow, and the export does not pin it while "
            f"{PYARROW_VERSION.name}=none.",
            tip=f"Unset {PYARROW_VERSION.name} (default 17.0.0) or use CSV / JSON lines.",
        )
    return (f"pyarrow=={settings.pyarrow_version}",)


# batch_size 0: the whole file in one batch (the prototype's meaning). Memory then grows with the
# file: past this input size a warning says so.
WHOLE_FILE = 0
_WHOLE_FILE_WARN_BYTES = 256 * 2**20
_ONE_BATCH = 2**31 - 1


def _whole_file(input_path: Path) -> int:
    size = input_path.stat().st_size if input_path.is_file() else 0
    if size > _WHOLE_FILE_WARN_BYTES:
        LOG.warning(
            "batch size 0 scores %s (%.1f GiB) in one batch: memory grows to several times the "
            "file; a batch size (default %s rows) keeps it flat.",
            input_path,
            size / 2**30,
            f"{BATCH_SIZE.default:,}",
        )
    return _ONE_BATCH


def score_file(
    settings: Settings,
    request: ScoreRequest,
    *,
    echo: bool = False,
    extra_env: Optional[Mapping[str, str]] = None,
) -> ScoreSummary:
    """Score ``request.input_path`` into ``request.output_path`` with the export's own scorer."""
    _check_request(request)
    input_path = local_path(request.input_path).resolve()
    output_path = local_path(request.output_path).resolve()
    batch_size = settings.batch_size if request.batch_size is None else request.batch_size
    if batch_size == WHOLE_FILE:
        batch_size = _whole_file(input_path)
    formats = check_paths(BatchJob(input_path, output_path, batch_size, request.keep_columns))
    parquet = any(fmt.needs_pyarrow for fmt in formats)
    source_context = (
        _export_source(request.scoring_dir)
        if request.scoring_dir
        else _model_source(str(request.model_uri))
    )
    with source_context as source:
        # Read what the inside process needs first: a broken export fails before any 3.8 work.
        scorer_module = open_pipeline_folder(source.pipeline).scorer_module
        columns, example_row = _columns(source.pipeline), _example_row(source.pipeline)
        extra = _extra_requirements(settings, source.pipeline, parquet)
        scoring = scoring_environment(
            settings, source.pipeline, echo=echo, extra_requirements=extra
        )
        apply_data_recipes = (
            source.apply_data_recipes
            if request.apply_data_recipes is None
            else request.apply_data_recipes
        )
        job = ScorerJob(
            batch=BatchJob(input_path, output_path, batch_size, request.keep_columns),
            columns=columns,
            scorer_module=scorer_module,
            example_row=example_row,
            shims=shims_dir(),
            apply_data_recipes=apply_data_recipes,
            parent_pid=os.getpid(),
            diag=settings.diag,
        )
        payload = _run_inside(scoring.environment.python, job, extra_env)
    result: Dict[str, Any] = payload["result"]
    summary = ScoreSummary(
        rows=int(result["rows"]),
        batches=int(result["batches"]),
        seconds=float(result["seconds"]),
        rows_per_second=float(result["rows"]) / max(float(result["seconds"]), 1e-9),
        output_path=str(result["output_path"]),
        prediction_columns=list(result["prediction_columns"]),
        ignored_columns=list(result["ignored_columns"]),
        batch_size=batch_size,
        peak_memory_mib=round(float(payload["peak_memory_mib"]), 1),
    )
    run_id = log_run_metrics(
        {
            "rows": float(summary.rows),
            "seconds": summary.seconds,
            "rows_per_second": summary.rows_per_second,
        }
    )
    return replace(summary, metrics_run_id=run_id)


def _columns(pipeline: Path) -> Tuple[ColumnSpec, ...]:
    schema = read_input_schema(pipeline)
    return tuple(ColumnSpec(c.name, c.mlflow_type, c.dtype) for c in schema.columns)


def _example_row(pipeline: Path) -> Tuple[ExampleValue, ...]:
    columns = example_columns(pipeline / "example.py")
    return tuple(ExampleValue(name, dtype, values[0]) for name, dtype, values in columns)


def _run_inside(
    python: Path, job: ScorerJob, extra_env: Optional[Mapping[str, str]]
) -> Dict[str, Any]:
    with scratch_dir("batch") as scratch:
        job_file, result_file = scratch / "job.json", scratch / "result.json"
        job_file.write_text(job.to_json(), encoding="utf-8")
        argv: List[processes.Arg] = [
            python, "-m", INSIDE_MODULE,
            "--job", job_file, "--result", result_file,
        ]  # fmt: skip
        code = processes.run_attached(argv, env=processes.child_environment(extra_env), cwd=scratch)
        if not result_file.is_file():
            raise DaiMlflowError(
                f"Scoring stopped inside Python 3.8 (exit code {code}) without a result; "
                f"nothing was written to {job.batch.output_path}.",
                tip="The error is printed above; set H2O_DAI_MLFLOW_DIAG=1 for more detail.",
            )
        payload: Dict[str, Any] = json.loads(result_file.read_text(encoding="utf-8"))
    if "error" in payload:
        raise DaiMlflowError(str(payload["error"]), tip=payload.get("tip"))
    return payload
