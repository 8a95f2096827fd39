"""No secret lands anywhere: log, score, validate and serve run with a known license key and a
Databricks token in their environment; afterwards neither is in the tracking store, the
artifacts, the environment cache, the outputs, or anything the commands printed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Callable, Iterator, List

import pytest
from helpers.cli import cli_env, dai_mlflow
from helpers.servers import free_port, wait_for_ping

from h2o_dai_py_scoring_mlflow.samples import SampleResult
from h2o_dai_py_scoring_mlflow.samples.datasets import make_dataset

pytestmark = pytest.mark.slow

TOKEN = "dapi-secret-token-must-not-leak-5e6f7a8b"


def _written_since(roots: List[Path], started: float) -> Iterator[Path]:
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink() and path.stat().st_mtime >= started:
                yield path


def _serve_once(model_uri: str, work: Path, env: dict, example: dict) -> str:  # type: ignore[type-arg]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "h2o_dai_py_scoring_mlflow.cli", "serve", "--model-uri",
         model_uri, "--port", str(port)],
        cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        wait_for_ping(port, server)
        body = json.dumps({"dataframe_split": example}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=60) as answer:
            assert answer.status == 200
            predictions = answer.read().decode()
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=60)
    return predictions + output


def test_license_key_and_token_are_nowhere_after_log_score_validate_and_serve(
    sample_factory: Callable[[str], SampleResult], env_root: Path, tmp_path: Path
) -> None:
    sample = sample_factory("binary")
    key = sample.license_file.read_text(encoding="utf-8").strip()
    assert len(key) > 20
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = cli_env(env_root, DRIVERLESS_AI_LICENSE_KEY=key, DATABRICKS_TOKEN=TOKEN, HOME=str(home))
    started = time.time() - 1
    printed: List[str] = []

    logged = dai_mlflow(["log-model", str(sample.pipeline), "--json"], work, env)
    assert logged.returncode == 0, logged.stderr
    printed += [logged.stdout, logged.stderr]
    model_uri = json.loads(logged.stdout.strip().splitlines()[-1])["model_uri"]

    data = make_dataset("binary", rows=200, seed=3).train
    data.drop(columns=[data.columns[-1]]).to_csv(work / "in.csv", index=False)
    for args in (
        ["score", "--model-uri", model_uri, "--input-path", "in.csv", "--output-path", "out.csv"],
        ["validate", "--model-uri", model_uri, "--report", "report.json"],
        ["env"],
    ):
        done = dai_mlflow(args, work, env)
        assert done.returncode == 0, done.stderr
        printed += [done.stdout, done.stderr]
    model_dir = next(work.glob("mlruns/*/*/artifacts/h2o_dai_scoring_pyfunc"))
    example = json.loads((model_dir / "input_example.json").read_text())
    printed.append(_serve_once(model_uri, work, env, example))

    for text in printed:
        assert key not in text and TOKEN not in text
    hits = [
        str(path)
        for path in _written_since([work, home, env_root], started)
        if key.encode() in path.read_bytes() or TOKEN.encode() in path.read_bytes()
    ]
    assert hits == []
    assert (work / "out.csv").is_file() and (work / "mlflow.db").is_file()
