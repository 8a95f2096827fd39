"""Notebook inference with MLflow's own uv environment manager, from MLflow 3.x: the helper makes
the Python 3.8 the model records discoverable for the call only."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest

from h2o_dai_py_scoring_mlflow import predict_with_uv
from h2o_dai_py_scoring_mlflow.runtime.scorer import ScoringEnvironment, score_frame
from h2o_dai_py_scoring_mlflow.samples import SampleResult
from h2o_dai_py_scoring_mlflow.samples.datasets import make_dataset

pytestmark = pytest.mark.slow


def test_predict_with_uv_needs_no_python_on_path_and_leaves_path_as_it_was(
    logged_binary_model: Path,
    sample_factory: Callable[[str], SampleResult],
    scoring_env_factory: Callable[[str], ScoringEnvironment],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sample = sample_factory("binary")
    monkeypatch.setenv("DRIVERLESS_AI_LICENSE_FILE", str(sample.license_file))
    # Only this Python's tools (uv among them) and the system's: no Python 3.8 anywhere.
    path = f"{Path(sys.executable).parent}{os.pathsep}/usr/bin{os.pathsep}/bin"
    monkeypatch.setenv("PATH", path)
    data = make_dataset("binary", rows=200, seed=23).train.head(20)
    frame = data.drop(columns=[data.columns[-1]]).astype(object)
    for position in range(len(frame.columns)):
        frame.iloc[position, position] = None

    got = predict_with_uv(str(logged_binary_model), frame)

    assert os.environ["PATH"] == path
    split = json.loads(frame.to_json(orient="split", index=False))
    direct = score_frame(
        scoring_env_factory("binary").environment,
        sample.pipeline,
        split,
        extra_env={"DRIVERLESS_AI_LICENSE_FILE": str(sample.license_file)},
    )
    assert isinstance(got, pd.DataFrame) and list(got.columns) == direct.columns
    assert np.array_equal(got.to_numpy(dtype="float64"), np.array(direct.rows))
