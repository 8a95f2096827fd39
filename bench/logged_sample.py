"""What several benchmarks start from: the synthetic binary export, logged by `dai-mlflow
log-model` from this Python into a new folder's default MLflow store, with the environment the
benchmark's commands run with (no downloads, the sample's license)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

import pandas as pd

from h2o_dai_py_scoring_mlflow.samples import SampleResult, build_sample
from h2o_dai_py_scoring_mlflow.samples.datasets import make_dataset


@dataclass(frozen=True)
class LoggedSample:
    scratch: Path
    sample: SampleResult
    env: Dict[str, str]
    cli: List[str]  # `dai-mlflow` as this Python runs it
    model: Path  # the logged model's folder


def logged_sample(name: str, rows: int) -> LoggedSample:
    scratch = Path(tempfile.mkdtemp(prefix=f"dai-mlflow-bench-{name}-"))
    sample = build_sample("binary", scratch / "sample", rows=rows)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING")},
        "H2O_DAI_MLFLOW_PYTHON_DOWNLOADS": "never",
        "H2O_DAI_MLFLOW_PYSPARK_VERSION": "none",
        "DRIVERLESS_AI_LICENSE_FILE": str(sample.license_file),
    }
    cli = [sys.executable, "-m", "h2o_dai_py_scoring_mlflow.cli"]
    logged = subprocess.run([*cli, "log-model", str(sample.pipeline), "--json"], env=env,
                            cwd=scratch, check=True, capture_output=True, text=True)  # fmt: skip
    run_id = json.loads(logged.stdout.strip().splitlines()[-1])["run_id"]
    model = next(scratch.glob(f"mlruns/*/{run_id}/artifacts/h2o_dai_scoring_pyfunc"))
    return LoggedSample(scratch, sample, env, cli, model)


def input_csv(path: Path, rows: int) -> None:
    """``rows`` unseen rows of the binary sample's columns plus an ``id`` column, as CSV."""
    dataset = make_dataset("binary", rows=100_000)
    block = dataset.train.drop(columns=[dataset.target])
    copies = -(-rows // len(block))
    frame = pd.concat([block] * copies, ignore_index=True).iloc[:rows]
    frame.insert(0, "id", range(rows))
    frame.to_csv(path, index=False)
