"""Benchmark: `dai-mlflow serve` with 1, 2 and 4 workers against in-process `predict`.

    uv run python bench/serve.py

For each: 1-row latency p50/p95 over sequential requests, and throughput (rows/s) with four
concurrent clients sending 1-row requests. The baseline is the same model loaded in-process with
MLflow 2.17 in the same environment (`pyfunc.load_model(...).predict` of one row), measured in
this run. Prints ratios against it.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Dict, List

from logged_sample import logged_sample

from h2o_dai_py_scoring_mlflow.checks.serving import free_port
from h2o_dai_py_scoring_mlflow.model.environment import model_environment
from h2o_dai_py_scoring_mlflow.settings import load_settings

REQUESTS = 200
CLIENTS = 4
IN_PROCESS = """
import json, sys, time
import pandas as pd
import mlflow.pyfunc
model = mlflow.pyfunc.load_model(sys.argv[1])
split = json.load(open(sys.argv[2]))
row = pd.DataFrame(split["data"][:1], columns=split["columns"]).astype(
    {c["name"]: "float64" for c in json.loads(model.metadata.get_input_schema().to_json())
     if c["type"] == "double"})
model.predict(row)
times = []
for _ in range(int(sys.argv[3])):
    started = time.perf_counter()
    model.predict(row)
    times.append(time.perf_counter() - started)
print(json.dumps(times))
"""


def _percentile(values: List[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _post(url: str, body: bytes) -> None:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()


def _measure_server(url: str, body: bytes) -> Dict[str, float]:
    _post(url, body)
    latencies = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        _post(url, body)
        latencies.append(time.perf_counter() - started)

    def client() -> None:
        for _ in range(REQUESTS // CLIENTS):
            _post(url, body)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * _percentile(latencies, 0.95),
        "rows_per_s": (REQUESTS // CLIENTS) * CLIENTS / elapsed,
    }


def _serve(cli: List[str], model: Path, workers: int, env: Dict[str, str]) -> Dict[str, float]:
    port = free_port()
    argv = [*cli, "serve", "--model-uri", str(model), "--port", str(port), "--workers",
            str(workers)]  # fmt: skip
    server = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1):
                    break
            except OSError:
                time.sleep(0.5)
        split = json.loads((model / "input_example.json").read_text())
        body = json.dumps({"dataframe_split": {**split, "data": split["data"][:1]}}).encode()
        return _measure_server(f"http://127.0.0.1:{port}/invocations", body)
    finally:
        server.terminate()
        server.wait(timeout=60)


def main() -> int:
    logged = logged_sample("serve", rows=1000)
    env = logged.env
    cli = logged.cli
    model = logged.model

    python = model_environment(model, load_settings(env)).python
    example = model / "input_example.json"
    done = subprocess.run([str(python), "-c", IN_PROCESS, str(model), str(example),
                           str(REQUESTS)], env=env, check=True, capture_output=True,
                          text=True)  # fmt: skip
    in_process = json.loads(done.stdout.strip().splitlines()[-1])
    base_p50 = 1000 * statistics.median(in_process)
    base_p95 = 1000 * _percentile(in_process, 0.95)
    base_rate = 1 / statistics.mean(in_process)
    print(f"in-process predict (1 row): p50 {base_p50:.2f} ms, p95 {base_p95:.2f} ms, "
          f"{base_rate:,.0f} rows/s")  # fmt: skip
    results = {"in_process": {"p50_ms": base_p50, "p95_ms": base_p95, "rows_per_s": base_rate}}
    for workers in (1, 2, 4):
        served = _serve(cli, model, workers, env)
        results[f"serve_{workers}"] = served
        print(
            f"dai-mlflow serve, {workers} worker(s): p50 {served['p50_ms']:.2f} ms "
            f"({served['p50_ms'] / base_p50:.1f}x in-process), p95 {served['p95_ms']:.2f} ms, "
            f"{served['rows_per_s']:,.0f} rows/s with {CLIENTS} clients "
            f"({served['rows_per_s'] / base_rate:.2f}x in-process)"
        )
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
