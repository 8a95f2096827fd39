"""Benchmark: `dai-mlflow log-model` launcher overhead and model size against export size.

    uv run python bench/log_model.py

1. Wall time of a warm `dai-mlflow log-model` (environments cached, local sqlite store bridged
   over loopback) against the logging step alone: the `log_model` entry point run directly in
   the Project's 3.8 environment against an http tracking server (target: overhead under 3 s).
2. Model size against export size, with a 64 MiB dependency wheel in the export as real exports
   have (target ratio <= 1.02: no wheel stored twice).
Both baselines are measured in this run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Dict, List

from h2o_dai_py_scoring_mlflow.bridge.launcher import project_environment
from h2o_dai_py_scoring_mlflow.runtime import processes
from h2o_dai_py_scoring_mlflow.runtime.project import project_dir
from h2o_dai_py_scoring_mlflow.samples import build_sample
from h2o_dai_py_scoring_mlflow.settings import load_settings


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _timed(argv: List[str], env: Dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> int:
    scratch = Path(tempfile.mkdtemp(prefix="dai-mlflow-bench-log-"))
    sample = build_sample("binary", scratch / "sample", rows=1000)
    export = sample.pipeline
    ballast = export / "datatable-1.1.0-cp38-cp38-manylinux_2_17_x86_64.whl"
    ballast.write_bytes(os.urandom(64 * 2**20))
    env = {
        **os.environ,
        "H2O_DAI_MLFLOW_PYTHON_DOWNLOADS": "never",
        "H2O_DAI_MLFLOW_PYSPARK_VERSION": "none",
        "DRIVERLESS_AI_LICENSE_FILE": str(sample.license_file),
    }
    work = scratch / "work"
    work.mkdir()
    cli = [sys.executable, "-m", "h2o_dai_py_scoring_mlflow.cli", "log-model", str(export)]
    subprocess.run(cli, env=env, cwd=work, check=True, capture_output=True)
    launcher_s = min(_timed(cli, env, work) for _ in range(3))

    project_env = project_environment(load_settings({**env}))
    port = _free_port()
    log = scratch / "server.log"
    server = processes.start(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
         f"sqlite:///{scratch / 'server.db'}", "--default-artifact-root",
         (scratch / "server-artifacts").as_uri(), "--no-serve-artifacts",
         "--host", "127.0.0.1", "--port", str(port)],
        log=log,
    )  # fmt: skip
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        inside = [
            str(project_env.python), str(project_dir() / "entrypoints" / "log_model.py"),
            "--scoring-dir", str(export),
        ]  # fmt: skip
        inside_env = {**env, "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"}
        inside_s = min(_timed(inside, inside_env, work) for _ in range(3))
    finally:
        processes.stop(server)

    runs = sorted((work / "mlruns").glob("*/*/artifacts/h2o_dai_scoring_pyfunc"))
    model_bytes = _folder_bytes(runs[-1])
    export_bytes = _folder_bytes(export)
    print(f"warm dai-mlflow log-model: {launcher_s:.2f} s (best of 3)")
    print(f"log_model entry point alone inside 3.8: {inside_s:.2f} s (best of 3)")
    overhead = launcher_s - inside_s
    verdict = "pass" if overhead < 3 else "FAIL"
    print(f"  launcher overhead: {overhead:.2f} s (target < 3 s: {verdict})")
    ratio = model_bytes / export_bytes
    print(f"model size {model_bytes} B / export size {export_bytes} B = {ratio:.4f} "
          f"(target <= 1.02: {'pass' if ratio <= 1.02 else 'FAIL'})")  # fmt: skip
    print(json.dumps({"launcher_s": launcher_s, "inside_s": inside_s, "size_ratio": ratio}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
