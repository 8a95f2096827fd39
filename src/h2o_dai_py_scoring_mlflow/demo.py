"""The main job on the embedded sample: build it, log it as a Python 3.8 pyfunc model, restore
the model in a clean environment built from its own files, predict with MLflow 2.17, and
batch-score a file with the logged model."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pandas as pd

from .api import log_model
from .batch.launch import ScoreRequest, ScoreSummary, score_file
from .bridge.launcher import LogModelRequest
from .checks.rehearsal import predict_with_mlflow
from .export.reading import example_frame
from .model.environment import model_environment
from .runtime.scorer import score_frame, scoring_environment
from .samples import SampleResult, build_sample
from .samples.datasets import make_dataset
from .samples.wheel_sources.h2oaicore.licensing import FILE_VARIABLE
from .settings import Settings

LOG = logging.getLogger(__name__)
DEMO_MARKER = ".dai-mlflow-demo"
BATCH_ROWS = 20_000


@dataclass(frozen=True)
class DemoResult:
    sample: SampleResult
    logged: Dict[str, Any]
    model_dir: Path
    interpreter: str
    columns: List[str]
    rows: List[List[float]]
    matches_scorer: bool
    batch: ScoreSummary
    batch_matches_scorer: bool


def _example_split(sample: SampleResult) -> Dict[str, Any]:
    frame = example_frame(sample.pipeline / "example.py")
    return dict(json.loads(frame.to_json(orient="split", index=False)))


def run_demo(
    settings: Settings, *, kind: str, out: Path, force: bool = False, echo: bool = False
) -> DemoResult:
    """Run the demo in ``out`` (a folder the demo owns: it is replaced on every run)."""
    out = out.resolve()
    owned = (out / DEMO_MARKER).is_file()
    LOG.info("1/5 Writing a synthetic %s DAI export to %s", kind, out)
    sample = build_sample(kind, out, force=owned or force)
    (out / DEMO_MARKER).write_text("written by `dai-mlflow demo`; replaced on every run\n")
    license_env = {FILE_VARIABLE: str(sample.license_file)}
    settings = _with_license(settings, sample)

    LOG.info("2/5 Logging it as a Python 3.8 pyfunc model into %s", out / "mlflow.db")
    request = LogModelRequest(
        scoring_dir=str(sample.pipeline),
        registered_model_name=f"dai_demo_{kind}",
        tracking_uri=f"sqlite:///{out / 'mlflow.db'}",
        workdir=out,
    )
    logged = log_model(settings, request, echo=echo, extra_env=license_env)
    model_dir = _local_model_dir(out, logged)

    LOG.info("3/5 Restoring the model in a clean environment built from its own files")
    rehearsal = model_environment(model_dir, settings, echo=echo)

    LOG.info("4/5 Predicting example.py's rows with MLflow 2.17 and with the scorer directly")
    split = _example_split(sample)
    predictions = predict_with_mlflow(rehearsal, model_dir, split, extra_env=license_env)
    columns = list(predictions[0]) if predictions else []
    rows = [[float(record[c]) for c in columns] for record in predictions]
    scoring = scoring_environment(settings, sample.pipeline, echo=echo).environment
    direct = score_frame(scoring, sample.pipeline, split, extra_env=license_env)

    LOG.info(
        "5/5 Batch-scoring %d new rows with the logged model (the score entry point)", BATCH_ROWS
    )
    batch_input = out / "batch-input.csv"
    frame = _batch_rows(sample)
    frame.to_csv(batch_input, index=False)
    batch_request = ScoreRequest(
        input_path=str(batch_input),
        output_path=str(out / "batch-predictions.csv"),
        model_uri=str(model_dir),
    )
    batch = score_file(settings, batch_request, echo=echo, extra_env=license_env)
    batch_direct = score_frame(
        scoring,
        sample.pipeline,
        dict(json.loads(frame.to_json(orient="split", index=False))),
        extra_env=license_env,
    )
    scored = pd.read_csv(batch.output_path)[batch_direct.columns].to_numpy()
    batch_matches = bool(np.array_equal(scored, np.array(batch_direct.rows, dtype="float64")))
    return DemoResult(
        sample,
        logged,
        model_dir,
        str(rehearsal.python.resolve()),
        columns,
        rows,
        direct.rows == rows,
        batch,
        batch_matches,
    )


def _batch_rows(sample: SampleResult) -> pd.DataFrame:
    """New rows of the sample's kind, as a user's file would hold them (no target, except for
    time series, where the target is an input)."""
    data = make_dataset(sample.kind, rows=BATCH_ROWS, seed=2027)
    frame = data.train.head(BATCH_ROWS)
    return frame if sample.kind == "timeseries" else frame.drop(columns=[data.target])


def _with_license(settings: Settings, sample: SampleResult) -> Settings:
    return replace(settings, license_present=sample.license_file.is_file())


def _local_model_dir(out: Path, logged: Dict[str, Any]) -> Path:
    run_id, artifact_path = logged["run_id"], logged["artifact_path"]
    matches = sorted(out.glob(f"mlruns/*/{run_id}/artifacts/{artifact_path}"))
    if not matches:
        raise FileNotFoundError(f"the logged model of run {run_id} is not under {out / 'mlruns'}")
    return matches[0]
