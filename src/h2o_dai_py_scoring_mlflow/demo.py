"""The main job on the embedded sample: build it, log it as a Python 3.8 pyfunc model, restore
the model in a clean environment built from its own files, and predict with MLflow 2.17."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, List

import pandas as pd

from .launcher import LogModelRequest, log_model, score_frame, scoring_environment
from .pipeline import example_columns
from .samples import SampleResult, build_sample
from .samples.wheel_sources.h2oaicore.licensing import FILE_VARIABLE
from .settings import Settings
from .validation import predict_with_mlflow, rehearsal_environment

LOG = logging.getLogger(__name__)
DEMO_MARKER = ".dai-mlflow-demo"


@dataclass(frozen=True)
class DemoResult:
    sample: SampleResult
    logged: Dict[str, Any]
    model_dir: Path
    interpreter: str
    columns: List[str]
    rows: List[List[float]]
    matches_scorer: bool


def _example_split(sample: SampleResult) -> Dict[str, Any]:
    columns = example_columns(sample.pipeline / "example.py")
    frame = pd.concat([pd.Series(v, name=n, dtype=d) for n, d, v in columns], axis=1)
    return dict(json.loads(frame.to_json(orient="split", index=False)))


def run_demo(
    settings: Settings, *, kind: str, out: Path, force: bool = False, echo: bool = False
) -> DemoResult:
    """Run the demo in ``out`` (a folder the demo owns: it is replaced on every run)."""
    out = out.resolve()
    owned = (out / DEMO_MARKER).is_file()
    LOG.info("1/4 Writing a synthetic %s DAI export to %s", kind, out)
    sample = build_sample(kind, out, force=owned or force)
    (out / DEMO_MARKER).write_text("written by `dai-mlflow demo`; replaced on every run\n")
    license_env = {FILE_VARIABLE: str(sample.license_file)}
    settings = _with_license(settings, sample)

    LOG.info("2/4 Logging it as a Python 3.8 pyfunc model into %s", out / "mlflow.db")
    request = LogModelRequest(
        scoring_dir=str(sample.pipeline),
        registered_model_name=f"dai_demo_{kind}",
        tracking_uri=f"sqlite:///{out / 'mlflow.db'}",
        workdir=out,
    )
    logged = log_model(settings, request, echo=echo, extra_env=license_env)
    model_dir = _local_model_dir(out, logged)

    LOG.info("3/4 Restoring the model in a clean environment built from its own files")
    rehearsal = rehearsal_environment(model_dir, settings, echo=echo)

    LOG.info("4/4 Predicting example.py's rows with MLflow 2.17 and with the scorer directly")
    split = _example_split(sample)
    predictions = predict_with_mlflow(rehearsal, model_dir, split, extra_env=license_env)
    columns = list(predictions[0]) if predictions else []
    rows = [[float(record[c]) for c in columns] for record in predictions]
    direct = score_frame(
        scoring_environment(settings, sample.pipeline, echo=echo).environment,
        sample.pipeline,
        frame_split=split,
        extra_env=license_env,
    )
    interpreter = str(rehearsal.python.resolve())
    return DemoResult(sample, logged, model_dir, interpreter, columns, rows, direct.rows == rows)


def _with_license(settings: Settings, sample: SampleResult) -> Settings:
    return replace(settings, license_present=sample.license_file.is_file())


def _local_model_dir(out: Path, logged: Dict[str, Any]) -> Path:
    run_id, artifact_path = logged["run_id"], logged["artifact_path"]
    matches = sorted(out.glob(f"mlruns/*/{run_id}/artifacts/{artifact_path}"))
    if not matches:
        raise FileNotFoundError(f"the logged model of run {run_id} is not under {out / 'mlruns'}")
    return matches[0]
