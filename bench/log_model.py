"""Benchmark: what the launcher costs a caller on another Python, and model size against export.

    uv run python bench/log_model.py

1. A warm `dai-mlflow log-model <scorer.zip>` from this Python (MLflow 3.x) into its default
   store (sqlite:///mlflow.db, served to the 3.8 side over loopback by the bridge), against the
   same command run inline by a Python 3.8 environment with MLflow 2.17 and this package (the
   Project's environment) into its default store. Both warm (environments cached, one run each
   first), best of 3, each in its own folder. Target: ratio <= 1.3.
2. Model size against export size, with a 64 MiB dependency wheel in the export as real exports
   have (target ratio <= 1.02: no wheel stored twice).
Both baselines are measured in this run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

from h2o_dai_py_scoring_mlflow.bridge.launcher import project_environment
from h2o_dai_py_scoring_mlflow.samples import build_sample
from h2o_dai_py_scoring_mlflow.settings import load_settings


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _timed(argv: List[str], env: Dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def _best_of_three(argv: List[str], env: Dict[str, str], cwd: Path) -> float:
    cwd.mkdir(parents=True)
    subprocess.run(argv, env=env, cwd=cwd, check=True, capture_output=True)  # warm up
    return min(_timed(argv, env, cwd) for _ in range(3))


def main() -> int:
    scratch = Path(tempfile.mkdtemp(prefix="dai-mlflow-bench-log-"))
    sample = build_sample("binary", scratch / "sample", rows=1000, zip_output=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING")},
        "H2O_DAI_MLFLOW_PYTHON_DOWNLOADS": "never",
        "H2O_DAI_MLFLOW_PYSPARK_VERSION": "none",
        "DRIVERLESS_AI_LICENSE_FILE": str(sample.license_file),
    }
    command = ["-m", "h2o_dai_py_scoring_mlflow.cli", "log-model", str(sample.pipeline)]
    bridged_s = _best_of_three([sys.executable, *command], env, scratch / "caller")
    inside = project_environment(load_settings(env)).python
    inline_s = _best_of_three([str(inside), *command], env, scratch / "inline")

    ballast_export = build_sample("binary", scratch / "sized", rows=1000)
    ballast = ballast_export.pipeline / "datatable-1.1.0-cp38-cp38-manylinux_2_17_x86_64.whl"
    ballast.write_bytes(os.urandom(64 * 2**20))
    sized = scratch / "sized-work"
    sized.mkdir()
    sized_env = {**env, "DRIVERLESS_AI_LICENSE_FILE": str(ballast_export.license_file)}
    argv = [sys.executable, "-m", "h2o_dai_py_scoring_mlflow.cli", "log-model"]
    subprocess.run([*argv, str(ballast_export.pipeline)], env=sized_env, cwd=sized, check=True,
                   capture_output=True)  # fmt: skip
    model = next(sized.glob("mlruns/*/*/artifacts/h2o_dai_scoring_pyfunc"))
    size_ratio = _folder_bytes(model) / _folder_bytes(ballast_export.pipeline)

    ratio = bridged_s / inline_s
    print(f"warm dai-mlflow log-model from MLflow 3.x, default store bridged: {bridged_s:.2f} s")
    print(f"the same command inline in Python 3.8 with MLflow 2.17:           {inline_s:.2f} s")
    print(f"  ratio {ratio:.2f} (target <= 1.3: {'pass' if ratio <= 1.3 else 'FAIL'})")
    print(f"model size / export size = {size_ratio:.4f} "
          f"(target <= 1.02: {'pass' if size_ratio <= 1.02 else 'FAIL'})")  # fmt: skip
    print(json.dumps({"bridged_s": bridged_s, "inline_s": inline_s, "ratio": ratio,
                      "size_ratio": size_ratio}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
