"""`mlflow.pyfunc.load_model(uri).predict(df)` from Python 3.11 with MLflow 3.x, as a notebook
would call it: the model hands scoring to a long-lived Python 3.8 worker, answers exactly as
the scorer called directly, under threads, loads quietly, and leaves no worker behind. Without
this package: one clear error, fast."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List

import numpy as np
import pandas as pd
import pytest
from helpers.frames import rows_with_missing_values
from helpers.pids import wait_gone

from h2o_dai_py_scoring_mlflow.runtime.processes import child_environment
from h2o_dai_py_scoring_mlflow.runtime.scorer import ScoringEnvironment, score_frame
from h2o_dai_py_scoring_mlflow.samples import SampleResult

pytestmark = pytest.mark.slow

# A user's notebook: the default MLflow 3.x store of its folder, a runs:/ URI.
NOTEBOOK = """
import json, sys, threading, warnings
import mlflow, pandas as pd

mlflow.set_tracking_uri(sys.argv[1])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    model = mlflow.pyfunc.load_model(sys.argv[2])
split = json.load(open(sys.argv[3]))
frame = pd.DataFrame(split["data"], columns=split["columns"])
from_frame = model.predict(frame)
from_records = model.predict(frame.to_dict(orient="records"))
answers, errors = {}, []

def call(offset):
    try:
        answers[offset] = model.predict(frame.iloc[offset:].reset_index(drop=True)).values.tolist()
    except BaseException as exc:
        errors.append(repr(exc))

threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({
    "columns": list(from_frame.columns),
    "frame": from_frame.values.tolist(),
    "records": from_records.values.tolist(),
    "threads": {str(k): v for k, v in answers.items()},
    "errors": errors,
    "warnings": [str(w.message) for w in caught],
}))
"""

# Loads and predicts, prints the process ids of its Python 3.8 workers, then exits or waits.
LOAD_AND_WAIT = """
import json, os, sys, time
from pathlib import Path
import mlflow, pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
split = json.load(open(sys.argv[2]))
model.predict(pd.DataFrame(split["data"], columns=split["columns"]))
tasks = Path(f"/proc/{os.getpid()}/task").glob("*/children")
children = [c for t in tasks for c in t.read_text().split()]
workers = [c for c in children if b"worker_process.py" in Path(f"/proc/{c}/cmdline").read_bytes()]
print(json.dumps(workers), flush=True)
if sys.argv[3] == "wait":
    time.sleep(600)
"""

# This package cannot be imported (as in a Python where it is not installed).
WITHOUT_PACKAGE = """
import sys, time

class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "h2o_dai_py_scoring_mlflow":
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, Absent())
import mlflow
started = time.monotonic()
try:
    mlflow.pyfunc.load_model(sys.argv[1]).predict(None)
except Exception as exc:
    print(f"{time.monotonic() - started:.3f}")
    print(type(exc).__name__)
    print(exc)
"""


def _rows() -> pd.DataFrame:
    return rows_with_missing_values(24, seed=13)


def _split_file(folder: Path, frame: pd.DataFrame) -> Path:
    path = folder / "rows.json"
    path.write_text(frame.to_json(orient="split", index=False))
    return path


@pytest.fixture(scope="module")
def license_env(sample_factory: Callable[[str], SampleResult]) -> Dict[str, str]:
    return {"DRIVERLESS_AI_LICENSE_FILE": str(sample_factory("binary").license_file)}


def _caller_env(license_env: Dict[str, str]) -> Dict[str, str]:
    return child_environment({**license_env, "MLFLOW_ENV_ROOT": os.environ["MLFLOW_ENV_ROOT"]})


def _run(script: str, args: List[str], env: Dict[str, str], cwd: Path) -> Any:
    done = subprocess.run(
        [sys.executable, "-c", script, *args], env=env, cwd=cwd, capture_output=True, text=True,
        check=False, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    return done


def test_load_model_predicts_like_the_scorer_from_python_3_11_and_mlflow_3(
    logged_binary_model: Path,
    license_env: Dict[str, str],
    scoring_env_factory: Callable[[str], ScoringEnvironment],
    sample_factory: Callable[[str], SampleResult],
    tmp_path: Path,
) -> None:
    """DataFrame and records, rows with a missing value in every column, 8 threads at once on
    one loaded model, a runs:/ URI in the caller's MLflow 3.x default store; no warning about
    the wrapper's type hints."""
    store = logged_binary_model.parents[4]  # <store>/mlruns/<experiment>/<run>/artifacts/model
    run_id = logged_binary_model.parents[1].name
    frame = _rows()
    rows = _split_file(tmp_path, frame)
    done = _run(
        NOTEBOOK,
        [f"sqlite:///{store / 'mlflow.db'}", f"runs:/{run_id}/h2o_dai_scoring_pyfunc", str(rows)],
        _caller_env(license_env),
        tmp_path,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    sample = sample_factory("binary")
    direct = score_frame(
        scoring_env_factory("binary").environment,
        sample.pipeline,
        json.loads(rows.read_text()),
        extra_env=license_env,
    )
    expected = np.array(direct.rows, dtype="float64")
    assert result["columns"] == direct.columns
    assert np.array_equal(np.array(result["frame"], dtype="float64"), expected)
    assert np.array_equal(np.array(result["records"], dtype="float64"), expected)
    assert result["errors"] == []
    assert sorted(int(k) for k in result["threads"]) == list(range(8))
    for offset, answer in result["threads"].items():
        assert np.array_equal(np.array(answer, dtype="float64"), expected[int(offset) :])
    assert not [w for w in result["warnings"] if "type hint" in w.lower()], result["warnings"]


@pytest.mark.parametrize("ending", ["exit", "sigkill"])
def test_no_worker_survives_the_caller(
    logged_binary_model: Path, license_env: Dict[str, str], tmp_path: Path, ending: str
) -> None:
    rows = _split_file(tmp_path, _rows())
    caller = subprocess.Popen(
        [sys.executable, "-c", LOAD_AND_WAIT, str(logged_binary_model), str(rows),
         "wait" if ending == "sigkill" else "exit"],
        env=_caller_env(license_env), cwd=tmp_path, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert caller.stdout is not None
    workers = [int(pid) for pid in json.loads(caller.stdout.readline())]
    assert len(workers) == 1
    if ending == "sigkill":
        os.kill(caller.pid, signal.SIGKILL)
    caller.wait(timeout=60)
    assert wait_gone(workers)


def test_without_the_package_one_clear_error_in_under_a_second(
    logged_binary_model: Path, license_env: Dict[str, str], tmp_path: Path
) -> None:
    done = _run(WITHOUT_PACKAGE, [str(logged_binary_model)], _caller_env(license_env), tmp_path)
    seconds, kind, *message = done.stdout.strip().splitlines()
    text = "\n".join(message)
    assert kind == "MlflowException"
    assert float(seconds) < 1.0
    assert "Python 3.8" in text
    assert "pip install h2o-dai-py-scoring-mlflow" in text
    assert 'env_manager="uv"' in text
    assert "dai-mlflow score --model-uri" in text
