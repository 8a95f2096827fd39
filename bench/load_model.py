"""Benchmark: `mlflow.pyfunc.load_model(uri).predict(df)` from this Python (MLflow 3.x; the model
hands scoring to a Python 3.8 worker) against `predict` in-process inside the model's own 3.8
environment (MLflow 2.17, the scorer imported).

    uv run python bench/load_model.py [--requests 300] [--rows 100000]

Both sides measured in this run, in fresh processes, with the environment cache warm:

* 1-row latency: --requests single-row predicts (after 10 to warm up), p50 and p95;
  target: at most 2 ms added at p50;
* throughput: one predict of --rows rows; target: at least 0.9 of in-process rows/s;
* first call: `load_model` plus the first 1-row predict in a new process (the worker started
  and the model loaded there); target: under 5 s.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

from logged_sample import logged_sample

from h2o_dai_py_scoring_mlflow.model.environment import model_environment
from h2o_dai_py_scoring_mlflow.samples.datasets import make_dataset
from h2o_dai_py_scoring_mlflow.settings import load_settings

ADDED_P50_MS = 2.0
THROUGHPUT_TARGET = 0.9
FIRST_CALL_S = 5.0

# Runs on either side: same code, same rows.
MEASURE = """
import json, sys, time
started = time.perf_counter()
import mlflow.pyfunc, pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
schema = json.loads(model.metadata.get_input_schema().to_json())
rows = pd.read_csv(sys.argv[2])[[c["name"] for c in schema]]
rows = rows.astype({c["name"]: "float64" for c in schema if c["type"] == "double"})
one = rows.head(1)
model.predict(one)
first_call = time.perf_counter() - started
for _ in range(10):
    model.predict(one)
latencies = []
for i in range(int(sys.argv[3])):
    row = rows.iloc[i % 1000 : i % 1000 + 1]
    begun = time.perf_counter()
    model.predict(row)
    latencies.append(time.perf_counter() - begun)
latencies.sort()
begun = time.perf_counter()
model.predict(rows)
bulk = time.perf_counter() - begun
print(json.dumps({"first_call_s": first_call, "p50_ms": 1000 * latencies[len(latencies) // 2],
                  "p95_ms": 1000 * latencies[int(len(latencies) * 0.95)],
                  "rows_per_s": len(rows) / bulk}))
"""


def _measure(python: str, model: Path, rows: Path, requests: int, env: Dict[str, str]) -> Any:
    done = subprocess.run(
        [python, "-c", MEASURE, str(model), str(rows), str(requests)],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()

    logged = logged_sample("load", rows=3000)
    scratch = logged.scratch
    env = logged.env
    model = logged.model
    dataset = make_dataset("binary", rows=args.rows)
    rows = scratch / "rows.csv"
    dataset.train.drop(columns=[dataset.target]).head(args.rows).to_csv(rows, index=False)

    python38 = str(model_environment(model, load_settings(env)).python)
    _measure(sys.executable, model, rows, 10, env)  # builds nothing new, warms the OS cache
    inside = _measure(python38, model, rows, args.requests, env)
    anywhere = _measure(sys.executable, model, rows, args.requests, env)

    added = anywhere["p50_ms"] - inside["p50_ms"]
    ratio = anywhere["rows_per_s"] / inside["rows_per_s"]
    print(f"in-process, Python 3.8 + MLflow 2.17: p50 {inside['p50_ms']:.2f} ms, "
          f"p95 {inside['p95_ms']:.2f} ms, {inside['rows_per_s']:,.0f} rows/s")  # fmt: skip
    print(f"load_model from Python {sys.version_info[0]}.{sys.version_info[1]} (worker): "
          f"p50 {anywhere['p50_ms']:.2f} ms, p95 {anywhere['p95_ms']:.2f} ms, "
          f"{anywhere['rows_per_s']:,.0f} rows/s")  # fmt: skip
    print(f"  added at p50: {added:.2f} ms (target <= {ADDED_P50_MS}: "
          f"{'PASS' if added <= ADDED_P50_MS else 'FAIL'})")  # fmt: skip
    print(f"  throughput ratio: {ratio:.2f} (target >= {THROUGHPUT_TARGET}: "
          f"{'PASS' if ratio >= THROUGHPUT_TARGET else 'FAIL'})")  # fmt: skip
    first = anywhere["first_call_s"]
    print(f"  first call, warm cache (load_model + 1 row): {first:.2f} s (target < "
          f"{FIRST_CALL_S}: {'PASS' if first < FIRST_CALL_S else 'FAIL'}; in-process "
          f"{inside['first_call_s']:.2f} s)")  # fmt: skip
    print(json.dumps({"inside": inside, "anywhere": anywhere, "added_p50_ms": added,
                      "throughput_ratio": ratio}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
