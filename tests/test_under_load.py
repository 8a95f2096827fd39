"""Many callers at once: several `dai-mlflow score` on a cold environment cache build it once
and all succeed; `dai-mlflow serve` answers 8 concurrent clients x 500 requests without an
error (latency printed)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, List

import pytest
from helpers.cli import cli_env
from helpers.servers import free_port, wait_for_ping

from h2o_dai_py_scoring_mlflow.samples import SampleResult
from h2o_dai_py_scoring_mlflow.samples.datasets import make_dataset

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "h2o_dai_py_scoring_mlflow.cli"]


def test_three_callers_on_a_cold_cache_build_one_environment_and_all_succeed(
    sample_factory: Callable[[str], SampleResult], tmp_path: Path
) -> None:
    sample = sample_factory("binary")
    cold = tmp_path / "cold-envs"
    env = cli_env(cold, DRIVERLESS_AI_LICENSE_FILE=str(sample.license_file))
    data = make_dataset("binary", rows=300, seed=21).train
    data.drop(columns=[data.columns[-1]]).to_csv(tmp_path / "in.csv", index=False)
    callers = [
        subprocess.Popen(
            [
                *CLI,
                "score",
                "--scoring-dir",
                str(sample.pipeline),
                "--input-path",
                "in.csv",
                "--output-path",
                f"out-{i}.csv",
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    for caller in callers:
        _, stderr = caller.communicate(timeout=900)
        assert caller.returncode == 0, stderr
    outputs = {(tmp_path / f"out-{i}.csv").read_text() for i in range(3)}
    assert len(outputs) == 1
    assert len([p for p in cold.iterdir() if p.name.startswith("dai-mlflow-scoring-")]) == 1
    assert [p.name for p in cold.iterdir() if p.name.startswith(".tmp-")] == []


def test_serve_answers_8_clients_x_500_requests_without_an_error(
    logged_binary_model: Path,
    sample_factory: Callable[[str], SampleResult],
    env_root: Path,
    tmp_path: Path,
) -> None:
    env = cli_env(env_root, DRIVERLESS_AI_LICENSE_FILE=str(sample_factory("binary").license_file))
    port = free_port()
    server = subprocess.Popen(
        [*CLI, "serve", "--model-uri", str(logged_binary_model), "--port", str(port),
         "--workers", "2"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    example = json.loads((logged_binary_model / "input_example.json").read_text())
    body = json.dumps({"dataframe_split": {**example, "data": example["data"][:1]}}).encode()
    url = f"http://127.0.0.1:{port}/invocations"
    try:
        wait_for_ping(port, server)

        def client(_: int) -> Dict[str, List[float]]:
            latencies: List[float] = []
            errors: List[float] = []
            for _ in range(500):
                request = urllib.request.Request(
                    url, data=body, headers={"Content-Type": "application/json"}
                )
                started = time.perf_counter()
                try:
                    with urllib.request.urlopen(request, timeout=60) as answer:
                        json.loads(answer.read())
                        ok = answer.status == 200
                except OSError:
                    ok = False
                (latencies if ok else errors).append(time.perf_counter() - started)
            return {"latencies": latencies, "errors": errors}

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(client, range(8)))
    finally:
        server.terminate()
        server.wait(timeout=60)
    latencies = sorted(t for r in results for t in r["latencies"])
    errors = sum(len(r["errors"]) for r in results)
    p50 = statistics.median(latencies) * 1000
    p95 = latencies[int(len(latencies) * 0.95)] * 1000
    print(f"\nserve under load: 4000 requests, {errors} errors, p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    assert errors == 0
    assert len(latencies) == 4000
