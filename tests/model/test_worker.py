"""The scoring worker: a long-lived Python 3.8 process that answers frames for any Python,
exactly as the scorer called directly, safely under threads, and never outliving its caller."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Tuple

import numpy as np
import pandas as pd
import pytest
from helpers.frames import rows_with_missing_values
from helpers.pids import alive, wait_gone

from h2o_dai_py_scoring_mlflow.model.environment import model_environment
from h2o_dai_py_scoring_mlflow.model.worker import ScoringWorker, WorkerError
from h2o_dai_py_scoring_mlflow.runtime.scorer import ScoringEnvironment, score_frame
from h2o_dai_py_scoring_mlflow.samples import SampleResult
from h2o_dai_py_scoring_mlflow.settings import load_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def license_env(sample_factory: Callable[[str], SampleResult]) -> Dict[str, str]:
    return {"DRIVERLESS_AI_LICENSE_FILE": str(sample_factory("binary").license_file)}


@pytest.fixture
def worker(
    logged_binary_model: Path, env_root: Path, license_env: Dict[str, str]
) -> Iterator[ScoringWorker]:
    settings = load_settings({"MLFLOW_ENV_ROOT": str(env_root)})
    environment = model_environment(logged_binary_model, settings)
    scoring = ScoringWorker(logged_binary_model, environment, extra_env=license_env)
    yield scoring
    scoring.close()


def _rows() -> pd.DataFrame:
    return rows_with_missing_values(30, seed=7)


def _direct(
    scoring_env_factory: Callable[[str], ScoringEnvironment],
    sample_factory: Callable[[str], SampleResult],
    frame: pd.DataFrame,
) -> np.ndarray:
    sample = sample_factory("binary")
    split = json.loads(frame.to_json(orient="split", index=False))
    license_env = {"DRIVERLESS_AI_LICENSE_FILE": str(sample.license_file)}
    scores = score_frame(
        scoring_env_factory("binary").environment, sample.pipeline, split, extra_env=license_env
    )
    return np.array(scores.rows, dtype="float64")


def test_answers_equal_the_scorer_on_rows_with_missing_values(
    worker: ScoringWorker,
    scoring_env_factory: Callable[[str], ScoringEnvironment],
    sample_factory: Callable[[str], SampleResult],
) -> None:
    frame = _rows()
    got = worker.predict(frame).to_numpy(dtype="float64")
    assert np.array_equal(got, _direct(scoring_env_factory, sample_factory, frame))


def test_eight_threads_share_one_worker_and_all_get_their_own_answers(
    worker: ScoringWorker,
) -> None:
    frame = _rows()
    expected = worker.predict(frame).to_numpy()
    answers: List[Tuple[int, np.ndarray]] = []
    errors: List[BaseException] = []

    def call(offset: int) -> None:
        try:
            part = frame.iloc[offset:].reset_index(drop=True)
            answers.append((offset, worker.predict(part).to_numpy()))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(answers) == 8
    for offset, got in answers:
        assert np.array_equal(got, expected[offset:])


def test_a_failure_inside_carries_the_models_own_message(worker: ScoringWorker) -> None:
    with pytest.raises(WorkerError, match="AGE"):
        worker.predict(_rows().drop(columns=["AGE"]))
    assert worker.predict(_rows()).shape[0] == len(_rows())  # the worker is still there


def test_a_worker_that_died_is_started_again(worker: ScoringWorker) -> None:
    worker.predict(_rows().head(2))
    first = worker.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    assert wait_gone([first])
    assert worker.predict(_rows().head(2)).shape == (2, 2)
    assert worker.pid not in (None, first)


def test_a_worker_started_from_a_short_lived_thread_outlives_that_thread(
    worker: ScoringWorker,
) -> None:
    """The kernel's parent-death signal follows the thread that forked: a worker started by a
    thread pool's task must not die when that task's thread ends."""
    starter = threading.Thread(target=worker.start)
    starter.start()
    starter.join()
    pid = worker.pid
    assert pid is not None
    time.sleep(1.0)
    assert alive(pid)
    assert worker.predict(_rows().head(2)).shape == (2, 2)
    assert worker.pid == pid


def test_a_model_that_cannot_load_is_one_clear_error(
    logged_binary_model: Path, env_root: Path, tmp_path: Path, license_env: Dict[str, str]
) -> None:
    broken = tmp_path / "model"
    subprocess.run(["cp", "-r", str(logged_binary_model), str(broken)], check=True)
    (broken / "python_model.pkl").write_bytes(b"not a pickle")
    environment = model_environment(broken, load_settings({"MLFLOW_ENV_ROOT": str(env_root)}))
    scoring = ScoringWorker(broken, environment, extra_env=license_env)
    with pytest.raises(WorkerError, match=r"could not be loaded in Python 3\.8"):
        scoring.predict(_rows().head(1))


def test_close_and_garbage_collection_stop_the_worker(
    logged_binary_model: Path, env_root: Path, license_env: Dict[str, str]
) -> None:
    environment = model_environment(
        logged_binary_model, load_settings({"MLFLOW_ENV_ROOT": str(env_root)})
    )
    scoring = ScoringWorker(logged_binary_model, environment, extra_env=license_env)
    scoring.predict(_rows().head(1))
    pid = scoring.pid
    assert pid is not None and alive(pid)
    del scoring
    gc.collect()
    assert wait_gone([pid])


def test_no_worker_survives_its_caller_killed_with_sigkill(
    logged_binary_model: Path, env_root: Path, license_env: Dict[str, str]
) -> None:
    code = (
        "import sys, time\nfrom pathlib import Path\nimport pandas as pd\n"
        "from h2o_dai_py_scoring_mlflow.model.environment import model_environment\n"
        "from h2o_dai_py_scoring_mlflow.model.worker import ScoringWorker\n"
        "from h2o_dai_py_scoring_mlflow.settings import load_settings\n"
        "model = Path(sys.argv[1])\n"
        "w = ScoringWorker(model, model_environment(model, load_settings()))\n"
        "import json\nsplit = json.loads((model / 'input_example.json').read_text())\n"
        "w.predict(pd.DataFrame(split['data'], columns=split['columns']))\n"
        "print(w.pid, flush=True)\ntime.sleep(600)\n"
    )
    env = {**os.environ, "MLFLOW_ENV_ROOT": str(env_root), **license_env}
    caller = subprocess.Popen(
        [sys.executable, "-c", code, str(logged_binary_model)],
        stdout=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip
    assert caller.stdout is not None
    pid = int(caller.stdout.readline())
    assert alive(pid)
    caller.kill()
    caller.wait()
    assert wait_gone([pid])
