"""Benchmark: `dai-mlflow validate` on a model whose environment is cached, against MLflow's own
`mlflow.models.predict(..., env_manager="uv")` on the same model and rows (which builds the
model's environment on every call; the 3.8 interpreter is made discoverable on PATH).

    uv run python bench/validate.py

Both measured in this run, warm (one call each first), best of 3; prints both times and the ratio.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

from logged_sample import logged_sample

from h2o_dai_py_scoring_mlflow.runtime.interpreters import resolve_interpreter
from h2o_dai_py_scoring_mlflow.settings import load_settings

PREDICT = """
import sys, mlflow
mlflow.models.predict(model_uri=sys.argv[1], input_path=sys.argv[2], content_type="json",
                      output_path=sys.argv[3], env_manager="uv")
"""


def _best_of_three(argv: List[str], env: Dict[str, str], cwd: Path) -> float:
    subprocess.run(argv, env=env, cwd=cwd, check=True, capture_output=True)
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(argv, env=env, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    logged = logged_sample("validate", rows=1000)
    scratch = logged.scratch
    env = logged.env
    cli = logged.cli
    model = logged.model
    validate_s = _best_of_three([*cli, "validate", "--model-uri", str(model)], env, scratch)

    python38 = resolve_interpreter(load_settings(env), pin="3.8").interpreter.path
    example = json.loads((model / "input_example.json").read_text())
    rows = scratch / "rows.json"
    rows.write_text(json.dumps({"dataframe_split": example}))
    predict_env = {**env, "PATH": f"{python38.parent}{os.pathsep}{env['PATH']}"}
    argv = [sys.executable, "-c", PREDICT, str(model), str(rows), str(scratch / "out.json")]
    predict_s = _best_of_three(argv, predict_env, scratch)

    print(f"dai-mlflow validate (all checks, environment cached): {validate_s:.2f} s")
    print(f"mlflow.models.predict(env_manager='uv') of the same rows: {predict_s:.2f} s")
    print(f"  ratio validate / predict: {validate_s / predict_s:.2f}")
    print(json.dumps({"validate_s": validate_s, "mlflow_predict_s": predict_s,
                      "ratio": validate_s / predict_s}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
