"""Benchmark: `dai-mlflow score --engine spark` with local[1] against local[2], against
`--engine local`, and rows/s per core against the in-process scorer (the ceiling).

    uv run python bench/spark.py [--rows 1000000] [--repeats 2]

A synthetic binary export is logged once; a CSV of --rows rows (training columns plus an `id`)
is scored, each run warm (environments cached, one run first), best of --repeats:

* in-process: the model loaded with MLflow 2.17 in its own Python 3.8 environment, one
  `predict` of the whole frame, timed inside that process (no file reading or writing) -- the
  most one core can do;
* `--engine local`: the file scored by one Python 3.8 scorer, batch by batch;
* `--engine spark --spark-master local[1]` and `local[2]`: the same file through Spark (JVM
  start, reading, Arrow batches to one Python 3.8 worker per Python worker, writing part files).

Targets, as ratios measured in this run: local[2] over local[1] throughput >= 1.6.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import pandas as pd

from h2o_dai_py_scoring_mlflow.model.environment import model_environment
from h2o_dai_py_scoring_mlflow.samples import build_sample
from h2o_dai_py_scoring_mlflow.samples.datasets import make_dataset
from h2o_dai_py_scoring_mlflow.settings import load_settings

SCALE_TARGET = 1.6  # local[2] rows/s over local[1] rows/s, at least

# Runs in the model's Python 3.8 environment: load once, predict the whole frame once, timed.
IN_PROCESS = """
import json, sys, time
import mlflow.pyfunc, pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
frame = pd.read_csv(sys.argv[2], dtype=str, keep_default_na=False).replace({"": None})
inputs = [c["name"] for c in json.loads(model.metadata.get_input_schema().to_json())]
frame = frame[inputs]
model.predict(frame.head(100))
started = time.perf_counter()
model.predict(frame)
print(json.dumps({"seconds": time.perf_counter() - started, "rows": len(frame)}))
"""


def _input_csv(path: Path, rows: int) -> None:
    dataset = make_dataset("binary", rows=100_000)
    block = dataset.train.drop(columns=[dataset.target])
    copies = -(-rows // len(block))
    frame = pd.concat([block] * copies, ignore_index=True).iloc[:rows]
    frame.insert(0, "id", range(rows))
    frame.to_csv(path, index=False)


def _best(argv: List[str], env: Dict[str, str], cwd: Path, output: Path, repeats: int) -> float:
    times = []
    for _ in range(repeats + 1):  # the first run warms caches and is not counted
        if output.is_dir():
            shutil.rmtree(output)
        started = time.perf_counter()
        subprocess.run(argv, env=env, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return min(times[1:])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="dai-mlflow-bench-spark-"))
    sample = build_sample("binary", scratch / "sample", rows=3000)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING")},
        "H2O_DAI_MLFLOW_PYTHON_DOWNLOADS": "never",
        "H2O_DAI_MLFLOW_PYSPARK_VERSION": "none",
        "DRIVERLESS_AI_LICENSE_FILE": str(sample.license_file),
        "MLFLOW_TRACKING_URI": f"file://{scratch / 'mlruns'}",
    }
    cli = [sys.executable, "-m", "h2o_dai_py_scoring_mlflow.cli"]
    logged = subprocess.run([*cli, "log-model", str(sample.pipeline), "--json"], env=env,
                            cwd=scratch, check=True, capture_output=True, text=True)  # fmt: skip
    run_id = json.loads(logged.stdout.strip().splitlines()[-1])["run_id"]
    model = next(scratch.glob(f"mlruns/*/{run_id}/artifacts/h2o_dai_scoring_pyfunc"))
    input_path = scratch / "input.csv"
    _input_csv(input_path, args.rows)
    print(f"input: {args.rows:,} rows, {input_path.stat().st_size / 2**20:.0f} MiB CSV", flush=True)

    python = model_environment(model, load_settings(env)).python
    argv = [str(python), "-c", IN_PROCESS, str(model), str(input_path)]
    measured = []
    for _ in range(args.repeats):
        done = subprocess.run(argv, env=env, check=True, capture_output=True, text=True)
        measured.append(json.loads(done.stdout.splitlines()[-1]))
    ceiling = args.rows / min(m["seconds"] for m in measured)
    print(f"in-process predict (one core, the ceiling): {ceiling:10,.0f} rows/s", flush=True)

    score = [*cli, "score", "--model-uri", str(model), "--input-path", str(input_path),
             "--keep-columns", "id"]  # fmt: skip
    rates = {}
    for label, extra, output in [
        ("--engine local", [], scratch / "local.csv"),
        ("--engine spark local[1]", ["--engine", "spark", "--spark-master", "local[1]"],
         scratch / "spark1.csv"),
        ("--engine spark local[2]", ["--engine", "spark", "--spark-master", "local[2]"],
         scratch / "spark2.csv"),
    ]:  # fmt: skip
        seconds = _best([*score, "--output-path", str(output), *extra], env, scratch, output,
                        args.repeats)  # fmt: skip
        rates[label] = args.rows / seconds
        print(f"{label:<24} {seconds:7.2f} s {rates[label]:10,.0f} rows/s", flush=True)

    scale = rates["--engine spark local[2]"] / rates["--engine spark local[1]"]
    per_core = rates["--engine spark local[2]"] / 2
    print(f"local[2] / local[1]: {scale:.2f} (target >= {SCALE_TARGET}: "
          f"{'PASS' if scale >= SCALE_TARGET else 'FAIL'})")  # fmt: skip
    versus_local = rates["--engine spark local[2]"] / rates["--engine local"]
    print(f"local[2] / --engine local: {versus_local:.2f}")
    print(f"local[2] rows/s per core / in-process: {per_core / ceiling:.2f}")
    print(json.dumps({"rows": args.rows, "in_process_rows_per_s": ceiling,
                      "rows_per_s": rates, "scale_2_over_1": scale}))  # fmt: skip
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
