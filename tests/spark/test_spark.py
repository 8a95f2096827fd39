"""Spark scoring from Python 3.11 with MLflow 3.x and pyspark (local mode): each Spark Python
worker hands its batches to one long-lived Python 3.8 worker, and the answers are the local
engine's, row for row."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List

import numpy as np
import pandas as pd
import pytest
from helpers.cli import cli_env, dai_mlflow

from h2o_dai_py_scoring_mlflow.samples import SampleResult
from h2o_dai_py_scoring_mlflow.samples.datasets import make_dataset

pyspark = pytest.importorskip("pyspark")
pytestmark = pytest.mark.slow

PREDICTIONS = ["default payment next month.0", "default payment next month.1"]


@pytest.fixture(scope="module")
def license_env(sample_factory: Callable[[str], SampleResult]) -> Dict[str, str]:
    return {"DRIVERLESS_AI_LICENSE_FILE": str(sample_factory("binary").license_file)}


@pytest.fixture(scope="module")
def spark(license_env: Dict[str, str], env_root: Path) -> Iterator[object]:
    """A local[2] session whose Python workers run this Python, with the license and the shared
    environment cache in their environment (executors inherit the driver's)."""
    from pyspark.sql import SparkSession

    from h2o_dai_py_scoring_mlflow.spark.job import local_python_workers

    saved = {key: os.environ.get(key) for key in [*license_env, "MLFLOW_ENV_ROOT"]}
    os.environ.update({**license_env, "MLFLOW_ENV_ROOT": str(env_root)})
    with local_python_workers():
        session = SparkSession.builder.master("local[2]").appName("dai-mlflow-tests").getOrCreate()
    try:
        yield session
    finally:
        session.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _rows(count: int, seed: int) -> pd.DataFrame:
    """Unseen rows with an ``id``, a missing value in every column somewhere, one all missing."""
    data = make_dataset("binary", rows=min(count, 60_000), seed=seed).train
    frame = data.drop(columns=[data.columns[-1]]).head(count).astype(object).reset_index(drop=True)
    for position in range(len(frame.columns)):
        frame.iloc[position, position] = None
    frame.iloc[len(frame.columns)] = None
    frame.insert(0, "id", [f"r{i:06d}" for i in range(len(frame))])
    return frame


def _worker_pids(model: Path) -> List[int]:
    """The running Python 3.8 workers of ``model`` (executors run it unpacked from its archive
    in the environment cache, a folder named by the digest of its files)."""
    from h2o_dai_py_scoring_mlflow.spark.archive import model_digest

    digest = model_digest(model)
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "worker_process.py" in command and digest in command:
            found.append(int(entry.name))
    return found


def test_engine_spark_writes_what_engine_local_writes(
    logged_binary_model: Path, license_env: Dict[str, str], env_root: Path, tmp_path: Path
) -> None:
    """50,000 CSV rows with missing values, local[2]: the same rows and predictions as
    `--engine local`, joined on the kept id."""
    _rows(50_000, seed=11).to_csv(tmp_path / "in.csv", index=False)
    env = cli_env(env_root, **license_env)
    args = ["score", "--model-uri", str(logged_binary_model), "--input-path", "in.csv",
            "--keep-columns", "id"]  # fmt: skip
    local = dai_mlflow([*args, "--output-path", "local.csv"], tmp_path, env)
    assert local.returncode == 0, local.stderr
    spark_run = dai_mlflow(
        [*args, "--output-path", "spark.csv", "--engine", "spark", "--spark-master", "local[2]"],
        tmp_path,
        env,
    )
    assert spark_run.returncode == 0, spark_run.stderr
    expected = pd.read_csv(tmp_path / "local.csv")
    parts = sorted((tmp_path / "spark.csv").glob("part-*.csv"))
    assert len(parts) >= 2  # really split across tasks
    got = pd.concat([pd.read_csv(p) for p in parts], ignore_index=True)
    assert len(got) == len(expected) == 50_000
    joined = expected.merge(got, on="id", suffixes=("", "_spark"), validate="one_to_one")
    assert len(joined) == 50_000
    for column in PREDICTIONS:
        assert np.array_equal(joined[column].to_numpy(), joined[f"{column}_spark"].to_numpy())


def test_score_spark_keeps_columns_and_types_its_output_from_the_signature(
    spark: object, logged_binary_model: Path
) -> None:
    from pyspark.sql import types

    from h2o_dai_py_scoring_mlflow.spark.scoring import score_spark

    frame = _rows(40, seed=5)
    source = spark.createDataFrame(frame.astype(str).replace({"None": None}))  # type: ignore[attr-defined]
    scored = score_spark(source, str(logged_binary_model), keep_columns=["id"], batch_size=7)
    assert scored.columns == ["id", *PREDICTIONS]
    assert [f.dataType for f in scored.schema.fields[1:]] == [types.DoubleType()] * 2
    result = scored.toPandas().sort_values("id").reset_index(drop=True)
    assert result["id"].tolist() == frame["id"].tolist()
    assert result[PREDICTIONS].notna().all().all()
    assert np.allclose(result[PREDICTIONS].sum(axis=1), 1.0)


def test_a_failure_inside_the_worker_reaches_the_driver_with_its_message(
    spark: object, logged_binary_model: Path, tmp_path: Path
) -> None:
    from h2o_dai_py_scoring_mlflow.spark.scoring import score_spark

    broken = tmp_path / "model"
    shutil.copytree(logged_binary_model, broken)
    (broken / "python_model.pkl").write_bytes(b"not a pickle")
    source = spark.createDataFrame(_rows(20, seed=6).astype(str).replace({"None": None}))  # type: ignore[attr-defined]
    with pytest.raises(Exception, match=r"could not be loaded in Python 3\.8"):
        score_spark(source, str(broken), keep_columns=["id"]).collect()


def test_the_3_8_workers_of_a_cancelled_job_are_reaped(
    spark: object, logged_binary_model: Path, tmp_path: Path
) -> None:
    """A killed Spark task takes its Python worker, and the Python 3.8 worker with it."""
    from h2o_dai_py_scoring_mlflow.spark.scoring import score_spark

    copy = tmp_path / "slow-model"
    shutil.copytree(logged_binary_model, copy)
    (copy / "cancel-test.txt").write_text("a model of its own, so its workers are new")
    frame = _rows(4_000, seed=8)
    source = spark.createDataFrame(frame.astype(str).replace({"None": None})).repartition(2)  # type: ignore[attr-defined]
    context = spark.sparkContext  # type: ignore[attr-defined]
    errors: List[BaseException] = []

    def run() -> None:
        context.setJobGroup("dai-cancel", "a job to cancel", interruptOnCancel=True)
        try:
            score_spark(source, str(copy), keep_columns=["id"], batch_size=1).collect()
        except Exception as exc:  # the cancellation, expected
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 300
    while not _worker_pids(copy) and time.monotonic() < deadline:
        time.sleep(0.5)
    started = _worker_pids(copy)
    assert started
    time.sleep(2)
    context.cancelJobGroup("dai-cancel")
    thread.join(timeout=120)
    assert errors
    deadline = time.monotonic() + 60
    while _worker_pids(copy) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _worker_pids(copy) == []


def test_mlflow_3_spark_udf_with_the_local_env_manager_hands_scoring_to_3_8_workers(
    spark: object, logged_binary_model: Path
) -> None:
    """MLflow 3.x's own spark_udf, env_manager="local", on workers that have this package: the
    model's wrapper starts a Python 3.8 worker there; the answers are score_spark's."""
    import mlflow.pyfunc
    from pyspark.sql import functions, types

    from h2o_dai_py_scoring_mlflow.spark.scoring import model_columns, score_spark

    signature = json.loads(
        mlflow.models.Model.load(str(logged_binary_model)).signature.to_dict()["inputs"]
    )
    numeric = [c["name"] for c in signature if c["type"] in ("double", "long", "integer", "float")]
    frame = _rows(30, seed=9)
    for name in numeric:
        frame[name] = pd.to_numeric(frame[name])
    source = spark.createDataFrame(frame)  # type: ignore[attr-defined]
    inputs = list(model_columns(logged_binary_model).inputs)
    result_type = types.StructType([types.StructField(n, types.DoubleType()) for n in PREDICTIONS])
    udf = mlflow.pyfunc.spark_udf(
        spark, str(logged_binary_model), env_manager="local", result_type=result_type
    )
    got = (
        source.withColumn("p", udf(functions.struct(*inputs)))
        .select("id", "p.*")
        .toPandas()
        .sort_values("id")
        .reset_index(drop=True)
    )
    expected = (
        score_spark(source, str(logged_binary_model), keep_columns=["id"])
        .toPandas()
        .sort_values("id")
        .reset_index(drop=True)
    )
    assert got["id"].tolist() == frame["id"].tolist()
    assert np.array_equal(got[PREDICTIONS].to_numpy(), expected[PREDICTIONS].to_numpy())


def test_score_spark_results_json(logged_binary_model: Path) -> None:
    """The model's signature gives the Spark schema (inputs and outputs both present)."""
    from h2o_dai_py_scoring_mlflow.spark.scoring import model_columns

    columns = model_columns(logged_binary_model)
    assert list(columns.outputs) == PREDICTIONS
    assert "AGE" in columns.inputs
    assert json.loads((logged_binary_model / "input_example.json").read_text())["columns"] == list(
        columns.inputs
    )
