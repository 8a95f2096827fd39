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

Targets, as ratios measured in this run: local[2] over local[1] throughput >= 1.6. Each run
also reports the scoring job alone (the command's own summary, JVM start excluded) and how many
of the machine's cores were busy on average: where local[1] already keeps most cores busy (the
JVM's threads, the Python worker and the 3.8 worker work in a pipeline), local[2] has nothing to
add, and the ratio says more about the machine than about the code.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

from logged_sample import input_csv, logged_sample

from h2o_dai_py_scoring_mlflow.model.environment import model_environment
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


@dataclass(frozen=True)
class Run:
    wall_s: float  # the whole command: Python and JVM start included
    job_s: float  # the scoring job alone, as the command's --json summary reports it
    busy_cores: float  # machine-wide CPU in use during the run, in cores


def _cpu_ticks() -> Tuple[int, int]:
    """(busy, idle) jiffies of the whole machine, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, idle


def _best(argv: List[str], env: Dict[str, str], cwd: Path, output: Path, repeats: int) -> Run:
    runs = []
    for _ in range(repeats + 1):  # the first run warms caches and is not counted
        if output.is_dir():
            shutil.rmtree(output)
        busy_before, idle_before = _cpu_ticks()
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, cwd=cwd, check=True, capture_output=True, text=True)
        wall = time.perf_counter() - started
        busy, idle = (a - b for a, b in zip(_cpu_ticks(), (busy_before, idle_before)))
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        cores = os.cpu_count() or 1
        runs.append(Run(wall, float(summary["seconds"]), cores * busy / max(busy + idle, 1)))
    return min(runs[1:], key=lambda run: run.wall_s)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    logged = logged_sample("spark", rows=3000)
    scratch = logged.scratch
    env = logged.env
    cli = logged.cli
    model = logged.model
    input_path = scratch / "input.csv"
    input_csv(input_path, args.rows)
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
             "--keep-columns", "id", "--json"]  # fmt: skip
    rates: Dict[str, float] = {}
    job_rates: Dict[str, float] = {}
    for label, extra, output in [
        ("--engine local", [], scratch / "local.csv"),
        ("--engine spark local[1]", ["--engine", "spark", "--spark-master", "local[1]"],
         scratch / "spark1.csv"),
        ("--engine spark local[2]", ["--engine", "spark", "--spark-master", "local[2]"],
         scratch / "spark2.csv"),
    ]:  # fmt: skip
        run = _best([*score, "--output-path", str(output), *extra], env, scratch, output,
                    args.repeats)  # fmt: skip
        rates[label] = args.rows / run.wall_s
        job_rates[label] = args.rows / run.job_s
        print(f"{label:<24} {run.wall_s:7.2f} s {rates[label]:10,.0f} rows/s  (job alone "
              f"{run.job_s:6.2f} s {job_rates[label]:10,.0f} rows/s; {run.busy_cores:.2f} of "
              f"{os.cpu_count()} cores busy)", flush=True)  # fmt: skip

    two, one = "--engine spark local[2]", "--engine spark local[1]"
    scale = rates[two] / rates[one]
    print(f"local[2] / local[1]: {scale:.2f} (job alone {job_rates[two] / job_rates[one]:.2f}; "
          f"target >= {SCALE_TARGET}: {'PASS' if scale >= SCALE_TARGET else 'FAIL'})")  # fmt: skip
    print(f"local[2] / --engine local: {rates[two] / rates['--engine local']:.2f}")
    print(f"local[2] rows/s per core / in-process: {rates[two] / 2 / ceiling:.2f} "
          f"(job alone {job_rates[two] / 2 / ceiling:.2f})")  # fmt: skip
    print(json.dumps({"rows": args.rows, "in_process_rows_per_s": ceiling, "rows_per_s": rates,
                      "job_rows_per_s": job_rates, "scale_2_over_1": scale}))  # fmt: skip
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
