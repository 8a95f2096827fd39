"""Batch scoring: `dai-mlflow score`, the `score` entry point and the Python API, end to end in the
real Python 3.8 scoring environment, against the scorer called directly."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

import mlflow
import numpy as np
import pandas as pd
import pytest
from conftest import HELPERS, REPO
from helpers.cli import cli_env, dai_mlflow
from helpers.pids import at_a_terminal

from h2o_dai_py_scoring_mlflow import score_driverless_file
from h2o_dai_py_scoring_mlflow.batch.job import CSV, JSON_LINES, PARQUET, file_format
from h2o_dai_py_scoring_mlflow.batch.loop import PARTIAL_SUFFIX, Progress, remove_stale_partials
from h2o_dai_py_scoring_mlflow.entrypoint_cli import column_names
from h2o_dai_py_scoring_mlflow.errors import ScoreInputError
from h2o_dai_py_scoring_mlflow.export.schema import read_input_schema
from h2o_dai_py_scoring_mlflow.model.location import model_folder
from h2o_dai_py_scoring_mlflow.runtime import processes
from h2o_dai_py_scoring_mlflow.runtime.environments import PythonEnvironment
from h2o_dai_py_scoring_mlflow.runtime.project import shims_dir
from h2o_dai_py_scoring_mlflow.runtime.scorer import ScoringEnvironment
from h2o_dai_py_scoring_mlflow.samples import SampleResult
from h2o_dai_py_scoring_mlflow.samples.datasets import make_dataset

PREDICTIONS = ["default payment next month.0", "default payment next month.1"]


def _inputs(rows: int, seed: int = 7) -> pd.DataFrame:
    """``rows`` unseen binary-kind input rows with an ``id`` first (no target)."""
    base = make_dataset("binary", rows=min(rows, 100_000), seed=seed)
    frame = base.train.drop(columns=[base.target])
    repeats = -(-rows // len(frame))
    frame = pd.concat([frame] * repeats, ignore_index=True).head(rows)
    frame.insert(0, "id", [f"row-{i:07d}" for i in range(rows)])
    return frame


@pytest.fixture(scope="module")
def binary(sample_factory: Callable[[str], SampleResult]) -> SampleResult:
    return sample_factory("binary")


@pytest.fixture
def env(binary: SampleResult, env_root: Path) -> Dict[str, str]:
    return cli_env(env_root, DRIVERLESS_AI_LICENSE_FILE=str(binary.license_file))


def score(
    binary: SampleResult, env: Dict[str, str], cwd: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return dai_mlflow(["score", "--scoring-dir", str(binary.pipeline), *args, "--json"], cwd, env)


def summary(done: subprocess.CompletedProcess[str]) -> Dict[str, Any]:
    assert done.returncode == 0, done.stderr[-3000:]
    result: Dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def direct(
    scoring: ScoringEnvironment, sample: SampleResult, csv: Path, tmp_path: Path
) -> np.ndarray:
    """The scorer called directly on the whole file, in the same Python 3.8 environment."""
    names = read_input_schema(Path(str(sample.pipeline))).names
    target = tmp_path / f"direct-{csv.stem}.npy"
    processes.run(
        [
            scoring.environment.python,
            HELPERS / "direct_scoring.py",
            "--pipeline",
            sample.pipeline,
            "--shims",
            shims_dir(),
            "--input",
            csv,
            "--columns",
            json.dumps(names),
            "--output",
            target,
        ],
        env=processes.child_environment({"DRIVERLESS_AI_LICENSE_FILE": str(sample.license_file)}),
        cwd=tmp_path,
    )
    values: np.ndarray = np.load(target)
    return values


def read_csv_exact(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"id": str})


def leftovers(folder: Path) -> List[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(PARTIAL_SUFFIX))


# --- acceptance: 400k rows, memory flat, identical to the scorer --------------------------------


@pytest.fixture(scope="module")
def big_inputs(tmp_path_factory: pytest.TempPathFactory) -> Dict[int, Path]:
    folder = tmp_path_factory.mktemp("big")
    frame = _inputs(400_000)
    paths = {400_000: folder / "in400k.csv", 100_000: folder / "in100k.csv"}
    frame.to_csv(paths[400_000], index=False)
    frame.head(100_000).to_csv(paths[100_000], index=False)
    return paths


@pytest.mark.slow
def test_400k_rows_in_batches_of_20k_match_the_scorer_with_flat_memory(
    binary: SampleResult,
    env: Dict[str, str],
    big_inputs: Dict[int, Path],
    scoring_env_factory: Callable[[str], ScoringEnvironment],
    tmp_path: Path,
) -> None:
    results = {}
    for rows, source in big_inputs.items():
        out = tmp_path / f"out{rows}.csv"
        args = ["--input-path", str(source), "--output-path", str(out), "--batch-size", "20000"]
        results[rows] = summary(score(binary, env, tmp_path, *args, "--keep-columns", "id"))
        assert results[rows]["rows"] == rows
        assert results[rows]["batches"] == rows // 20_000
        assert results[rows]["ignored_columns"] == []
    output = read_csv_exact(tmp_path / "out400000.csv")
    assert list(output.columns) == ["id", *PREDICTIONS]
    assert len(output) == 400_000
    assert output["id"].tolist() == [f"row-{i:07d}" for i in range(400_000)]
    expected = direct(scoring_env_factory("binary"), binary, big_inputs[400_000], tmp_path)
    assert np.array_equal(output[PREDICTIONS].to_numpy(), expected)
    small, large = results[100_000]["peak_memory_mib"], results[400_000]["peak_memory_mib"]
    assert large <= 1.15 * small, (small, large)


# --- checks before scoring ------------------------------------------------------------------------


def test_a_missing_column_fails_before_any_output_and_names_it(
    binary: SampleResult, env: Dict[str, str], tmp_path: Path
) -> None:
    frame = _inputs(300).drop(columns=["AGE", "region"])
    source = tmp_path / "in.csv"
    frame[list(reversed(frame.columns))].to_csv(source, index=False)
    out = tmp_path / "out.csv"
    done = score(binary, env, tmp_path, "--input-path", str(source), "--output-path", str(out))
    assert done.returncode == 1
    assert "lacks the model's input column(s): 'AGE', 'region'" in done.stderr
    assert not out.exists() and leftovers(tmp_path) == []


def test_a_csv_with_100k_unused_columns_reads_only_the_models_and_scores_the_same(
    binary: SampleResult, env: Dict[str, str], tmp_path: Path
) -> None:
    frame = _inputs(3)
    narrow = tmp_path / "narrow.csv"
    frame.to_csv(narrow, index=False)
    unused = 100_000
    lines = narrow.read_text().splitlines()
    header = lines[0] + "".join(f",unused{i}" for i in range(unused))
    rows = [line + ",x" * unused for line in lines[1:]]
    wide = tmp_path / "wide.csv"
    wide.write_text("\n".join([header, *rows]) + "\n")
    outputs = {}
    for source in (narrow, wide):
        out = tmp_path / f"out-{source.stem}.csv"
        args = ["--input-path", str(source), "--output-path", str(out), "--keep-columns", "id"]
        done = score(binary, env, tmp_path, *args)
        result = summary(done)
        assert result["rows"] == 3
        outputs[source.stem] = read_csv_exact(out)
    assert f"ignoring {unused} input column(s)" in done.stderr
    pd.testing.assert_frame_equal(outputs["wide"], outputs["narrow"])


def test_misspelt_columns_get_a_rename_hint(
    binary: SampleResult, env: Dict[str, str], tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    _inputs(20).rename(columns={"LIMIT_BAL": "limit_bal"}).to_csv(source, index=False)
    done = score(binary, env, tmp_path, "--input-path", str(source), "--output-path", "o.csv")
    assert done.returncode == 1
    assert "'limit_bal' -> 'LIMIT_BAL'" in done.stderr


def test_a_value_that_cannot_be_coerced_names_its_row_and_column(
    binary: SampleResult, env: Dict[str, str], tmp_path: Path
) -> None:
    frame = _inputs(300)
    frame["AGE"] = frame["AGE"].astype(object)
    frame.loc[219, "AGE"] = "forty"
    source = tmp_path / "in.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "out.csv"
    done = score(
        binary, env, tmp_path,
        "--input-path", str(source), "--output-path", str(out), "--batch-size", "100",
    )  # fmt: skip
    assert done.returncode == 1
    assert "row 220, column 'AGE': 'forty' is not a number" in done.stderr
    assert not out.exists() and leftovers(tmp_path) == []


def test_a_missing_keep_column_and_a_clash_with_a_prediction_are_refused(
    binary: SampleResult, env: Dict[str, str], tmp_path: Path
) -> None:
    frame = _inputs(10)
    frame[PREDICTIONS[0]] = 1.0
    source = tmp_path / "in.csv"
    frame.to_csv(source, index=False)
    base = ["--input-path", str(source), "--output-path", str(tmp_path / "o.csv")]
    absent = score(binary, env, tmp_path, *base, "--keep-columns", "id,account")
    assert absent.returncode == 1 and "does not have: 'account'" in absent.stderr
    clash = score(binary, env, tmp_path, *base, "--keep-columns", json.dumps([PREDICTIONS[0]]))
    assert clash.returncode == 1 and "has the name of a prediction column" in clash.stderr
    assert not (tmp_path / "o.csv").exists() and leftovers(tmp_path) == []


def test_unknown_extensions_and_bad_batch_sizes_fail_at_once(
    binary: SampleResult, env: Dict[str, str], tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    _inputs(5).to_csv(source, index=False)
    wrong = score(binary, env, tmp_path, "--input-path", str(source), "--output-path", "o.xlsx")
    assert wrong.returncode == 1 and "Cannot tell the format of the output file" in wrong.stderr
    zero = score(
        binary, env, tmp_path, "--input-path", str(source), "--output-path", "o.csv",
        "--batch-size", "0",
    )  # fmt: skip
    assert zero.returncode == 2 and "a whole number of rows" in zero.stderr
    missing = score(binary, env, tmp_path, "--input-path", "nope.csv", "--output-path", "o.csv")
    assert missing.returncode == 1 and "nope.csv does not exist" in missing.stderr
    dbfs = score(binary, env, tmp_path, "--input-path", "dbfs:/x/in.csv", "--output-path", "o.csv")
    assert "The input file /dbfs/x/in.csv does not exist" in dbfs.stderr
    under_a_file = source / "sub" / "o.csv"
    refused = score(
        binary, env, tmp_path, "--input-path", str(source), "--output-path", str(under_a_file)
    )
    assert refused.returncode == 1 and f"{source} is not writable" in refused.stderr


# --- formats and awkward files --------------------------------------------------------------------


def test_parquet_json_lines_and_gzip_give_the_same_predictions_as_csv(
    binary: SampleResult, env: Dict[str, str], tmp_path: Path
) -> None:
    frame = _inputs(2_500)
    frame.to_csv(tmp_path / "in.csv", index=False)
    frame.to_parquet(tmp_path / "in.parquet", index=False)
    frame.to_csv(tmp_path / "in.csv.gz", index=False)
    frame.to_json(tmp_path / "in.jsonl", orient="records", lines=True)
    runs = {
        "in.csv": "out.csv",
        "in.parquet": "out.parquet",
        "in.csv.gz": "out.csv.gz",
        "in.jsonl": "out.jsonl",
    }
    for source, target in runs.items():
        result = summary(
            score(
                binary, env, tmp_path,
                "--input-path", str(tmp_path / source), "--output-path", str(tmp_path / target),
                "--keep-columns", "id", "--batch-size", "1000",
            )
        )  # fmt: skip
        assert result["rows"] == 2_500 and result["batches"] == 3
    expected = read_csv_exact(tmp_path / "out.csv")
    with gzip.open(tmp_path / "out.csv.gz", "rt") as handle:
        assert handle.readline().strip() == ",".join(["id", *PREDICTIONS])
    outputs = {
        "parquet": pd.read_parquet(tmp_path / "out.parquet"),
        "csv.gz": pd.read_csv(tmp_path / "out.csv.gz"),
        "jsonl": pd.read_json(tmp_path / "out.jsonl", lines=True, precise_float=True),
    }
    for name, got in outputs.items():
        assert got["id"].tolist() == expected["id"].tolist(), name
        assert np.array_equal(got[PREDICTIONS].to_numpy(), expected[PREDICTIONS].to_numpy()), name


@pytest.mark.parametrize("target", ["out.csv", "out.parquet", "out.jsonl"])
def test_a_header_only_input_gives_a_header_only_output(
    binary: SampleResult, env: Dict[str, str], tmp_path: Path, target: str
) -> None:
    source = tmp_path / "in.csv"
    _inputs(3).head(0).to_csv(source, index=False)
    out = tmp_path / target
    result = summary(
        score(
            binary, env, tmp_path,
            "--input-path", str(source), "--output-path", str(out), "--keep-columns", "id",
        )
    )  # fmt: skip
    assert result["rows"] == 0 and result["prediction_columns"] == PREDICTIONS
    if target.endswith(".csv"):
        assert out.read_text().splitlines() == [",".join(["id", *PREDICTIONS])]
    elif target.endswith(".parquet"):
        empty = pd.read_parquet(out)
        assert list(empty.columns) == ["id", *PREDICTIONS] and len(empty) == 0
    else:
        assert out.read_text() == ""


def test_bom_quoted_newlines_and_na_strings(
    binary: SampleResult,
    env: Dict[str, str],
    scoring_env_factory: Callable[[str], ScoringEnvironment],
    tmp_path: Path,
) -> None:
    text = (
        "\ufeffid,LIMIT_BAL,AGE,EDUCATION,PAY_0,BILL_AMT1,region,account_open_date,notes\r\n"
        '1,50000,45,university,0,1000.5,"South, Coastal",2016-03-12,"two\r\nlines"\r\n'
        "2,NA,30,NA,1,N/A,Pacific,2010-01-01,\r\n"
        '3,,51,"high school",-1,,"Mid West",,"say ""hi"""\r\n'
        "4,null,22,NaN,2, ,North East,2019-07-01,x\r\n"
    )
    source = tmp_path / "awkward.csv"
    source.write_bytes(text.encode("utf-8"))
    out = tmp_path / "out.csv"
    done = score(
        binary, env, tmp_path,
        "--input-path", str(source), "--output-path", str(out), "--keep-columns", "id",
    )  # fmt: skip
    result = summary(done)
    assert result["rows"] == 4 and result["ignored_columns"] == ["notes"]
    assert "ignoring 1 input column(s) the model does not use: 'notes'" in done.stderr
    clean = pd.DataFrame(
        {
            "LIMIT_BAL": [50000.0, None, None, None],
            "AGE": [45, 30, 51, 22],
            "EDUCATION": ["university", None, "high school", None],
            "PAY_0": [0, 1, -1, 2],
            "BILL_AMT1": [1000.5, None, None, None],
            "region": ["South, Coastal", "Pacific", "Mid West", "North East"],
            "account_open_date": ["2016-03-12", "2010-01-01", None, "2019-07-01"],
        }
    )
    clean.to_csv(tmp_path / "clean.csv", index=False)
    expected = direct(scoring_env_factory("binary"), binary, tmp_path / "clean.csv", tmp_path)
    output = read_csv_exact(out)
    assert output["id"].tolist() == ["1", "2", "3", "4"]
    assert np.array_equal(output[PREDICTIONS].to_numpy(), expected)


def test_malformed_csv_and_json_lines_fail_cleanly_after_good_batches(
    binary: SampleResult, env: Dict[str, str], tmp_path: Path
) -> None:
    good = _inputs(250)
    csv = tmp_path / "bad.csv"
    text = good.to_csv(index=False)
    csv.write_text(text + "x,1,2,3,4,5,6,7,8,9,10,11\n")
    jsonl = tmp_path / "bad.jsonl"
    jsonl.write_text(good.to_json(orient="records", lines=True) + "\n{not json}\n")
    for source, expected in (
        (csv, "data row 251 has more fields"),
        (jsonl, "not valid JSON lines"),
    ):
        out = tmp_path / f"{source.stem}-{source.suffix[1:]}.csv"
        done = score(
            binary, env, tmp_path,
            "--input-path", str(source), "--output-path", str(out), "--batch-size", "100",
        )  # fmt: skip
        assert done.returncode == 1, source
        assert expected in done.stderr, done.stderr[-2000:]
        assert not out.exists() and leftovers(tmp_path) == []


def test_non_utf8_input_is_refused_with_a_fix(
    binary: SampleResult, env: Dict[str, str], tmp_path: Path
) -> None:
    source = tmp_path / "latin1.csv"
    _inputs(50).replace({"region": {"Pacific": "Pacífico"}}).to_csv(
        source, index=False, encoding="latin-1"
    )
    out = tmp_path / "out.csv"
    done = score(binary, env, tmp_path, "--input-path", str(source), "--output-path", str(out))
    assert done.returncode == 1
    assert "is not UTF-8 text: byte 0xed" in done.stderr and "iconv" in done.stderr
    assert not out.exists() and leftovers(tmp_path) == []


def test_time_series_exports_warn_that_batches_are_scored_apart(
    sample_factory: Callable[[str], SampleResult], env_root: Path, tmp_path: Path
) -> None:
    sample = sample_factory("timeseries")
    variables = cli_env(env_root, DRIVERLESS_AI_LICENSE_FILE=str(sample.license_file))
    source = tmp_path / "series.csv"
    make_dataset("timeseries", rows=2_000, seed=5).train.to_csv(source, index=False)
    args = ["score", "--scoring-dir", str(sample.pipeline), "--input-path", str(source)]
    split = dai_mlflow(
        [*args, "--output-path", "a.csv", "--batch-size", "500"], tmp_path, variables
    )
    assert split.returncode == 0, split.stderr
    assert "takes its target 'unweighted_ili' as an input" in split.stderr
    whole = dai_mlflow(
        [*args, "--output-path", "b.csv", "--batch-size", "100000"], tmp_path, variables
    )
    assert whole.returncode == 0 and "takes its target" not in whole.stderr


# --- interruption ---------------------------------------------------------------------------------


def _slow_run(binary: SampleResult, source: Path, out: Path) -> List[str]:
    """`dai-mlflow score` argv with small batches, so the run lasts long enough to interrupt."""
    return [
        sys.executable, "-m", "h2o_dai_py_scoring_mlflow.cli", "score",
        "--scoring-dir", str(binary.pipeline), "--input-path", str(source),
        "--output-path", str(out), "--batch-size", "2000",
    ]  # fmt: skip


def _partial_appears(out: Path, timeout: float = 180) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = next(iter(out.parent.glob(f".{out.name}.*{PARTIAL_SUFFIX}")), None)
        if found is not None:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no partial file of {out} appeared in {timeout} s")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_killing_the_caller_mid_run_leaves_no_output_and_a_rerun_succeeds(
    binary: SampleResult, env: Dict[str, str], big_inputs: Dict[int, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out.csv"
    argv = _slow_run(binary, big_inputs[400_000], out)
    caller = subprocess.Popen(argv, cwd=tmp_path, env=env, stderr=subprocess.DEVNULL)
    partial = _partial_appears(out)
    caller.kill()
    caller.wait()
    inner = int(partial.name.split(".")[3])
    deadline = time.monotonic() + 30
    while _pid_alive(inner) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _pid_alive(inner), "the Python 3.8 child outlived its caller"
    assert not out.exists() and leftovers(tmp_path) == []

    stale = tmp_path / f".out.csv.{_dead_pid()}{PARTIAL_SUFFIX}"
    stale.write_text("half a file")
    rerun = summary(dai_mlflow([*argv[3:], "--json"], tmp_path, env))
    assert rerun["rows"] == 400_000
    assert len(read_csv_exact(out)) == 400_000
    assert leftovers(tmp_path) == []


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


# --- model URIs, MLflow runs and the Python API ---------------------------------------------------


@pytest.fixture(scope="module")
def logged_binary(
    binary: SampleResult, env_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Dict[str, Any]:
    folder = tmp_path_factory.mktemp("score-logged")
    variables = cli_env(env_root, DRIVERLESS_AI_LICENSE_FILE=str(binary.license_file))
    args = ["log-model", str(binary.pipeline), "--registered-model-name", "scorer", "--json"]
    done = dai_mlflow(args, folder, variables)
    assert done.returncode == 0, done.stderr[-3000:]
    result: Dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")
    artifacts = client.get_run(result["run_id"]).info.artifact_uri.replace("file://", "")
    return {**result, "folder": folder, "model_dir": Path(artifacts) / result["artifact_path"]}


@pytest.mark.slow
def test_model_uris_score_like_the_export(
    binary: SampleResult, env: Dict[str, str], logged_binary: Dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    _inputs(1_000).to_csv(source, index=False)
    reference = tmp_path / "reference.csv"
    summary(
        score(binary, env, tmp_path, "--input-path", str(source), "--output-path", str(reference))
    )
    expected = read_csv_exact(reference).to_numpy()
    folder = logged_binary["folder"]
    for number, uri in enumerate(
        ["models:/scorer/1", logged_binary["model_uri"], str(logged_binary["model_dir"])]
    ):
        out = tmp_path / f"out{number}.csv"
        args = ["score", "--model-uri", uri, "--input-path", str(source)]
        result = summary(dai_mlflow([*args, "--output-path", str(out), "--json"], folder, env))
        assert result["rows"] == 1_000, uri
        assert np.array_equal(read_csv_exact(out).to_numpy(), expected), uri
    wrong = dai_mlflow(
        ["score", "--model-uri", "models:/nothing/1", "--input-path", str(source),
         "--output-path", str(tmp_path / "x.csv")],
        folder, env,
    )  # fmt: skip
    assert wrong.returncode == 1 and "Cannot download the model models:/nothing/1" in wrong.stderr


@pytest.mark.slow
def test_score_entry_point_under_mlflow_run_logs_metrics_to_its_run(
    binary: SampleResult, project_env: PythonEnvironment, env_root: Path, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    _inputs(3_000).to_csv(source, index=False)
    out = tmp_path / "out.parquet"
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    variables = {
        **cli_env(env_root, DRIVERLESS_AI_LICENSE_FILE=str(binary.license_file)),
        "PATH": os.pathsep.join([str(project_env.path / "bin"), os.environ["PATH"]]),
        "MLFLOW_TRACKING_URI": store,
    }
    done = processes.run(
        [
            project_env.path / "bin" / "mlflow",
            "run",
            REPO,
            "-e",
            "score",
            "-P",
            f"scoring_dir={binary.pipeline}",
            "-P",
            f"input_path={source}",
            "-P",
            f"output_path={out}",
            "-P",
            "keep_columns=id",
            "-P",
            "batch_size=1000",
            "--env-manager",
            "local",
        ],
        env=variables,
        cwd=tmp_path,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["rows"] == 3_000 and result["metrics_run_id"]
    assert len(pd.read_parquet(out)) == 3_000
    run_id = result["metrics_run_id"]
    check = f"import json, mlflow; print(json.dumps(mlflow.get_run({run_id!r}).data.metrics))"
    metrics = json.loads(
        processes.run([project_env.python, "-c", check], env=variables).stdout.splitlines()[-1]
    )
    assert metrics["rows"] == 3_000 and metrics["seconds"] > 0 and metrics["rows_per_second"] > 0


def test_python_api_logs_metrics_to_the_active_run(
    binary: SampleResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIVERLESS_AI_LICENSE_FILE", str(binary.license_file))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    source = tmp_path / "in.jsonl"
    _inputs(500).to_json(source, orient="records", lines=True)
    with mlflow.start_run() as run:
        done = score_driverless_file(
            str(source), str(tmp_path / "out.csv"), scoring_dir=str(binary.pipeline)
        )
    assert done.metrics_run_id == run.info.run_id and done.rows == 500
    metrics = mlflow.MlflowClient().get_run(run.info.run_id).data.metrics
    assert metrics["rows"] == 500
    with pytest.raises(ScoreInputError, match="exactly one of scoring_dir"):
        score_driverless_file(str(source), str(tmp_path / "o.csv"))


# --- pure logic (no Python 3.8) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "compressed"),
    [
        ("a.csv", CSV, False),
        ("a.CSV.GZ", CSV, True),
        ("a.b.parquet", PARQUET, False),
        ("a.pq", PARQUET, False),
        ("a.jsonl", JSON_LINES, False),
        ("a.ndjson", JSON_LINES, False),
        ("a.json", JSON_LINES, False),
        ("a.jsonl.gz", JSON_LINES, True),
    ],
)
def test_formats_come_from_extensions(name: str, kind: str, compressed: bool) -> None:
    fmt = file_format(Path(name), "input")
    assert (fmt.kind, fmt.gzip) == (kind, compressed)


@pytest.mark.parametrize("name", ["a.txt", "a", "a.parquet.gz", "a.gz"])
def test_unknown_formats_are_named(name: str) -> None:
    with pytest.raises(ScoreInputError, match="Cannot tell the format of the output file"):
        file_format(Path(name), "output")


def test_keep_columns_accept_commas_or_a_json_list() -> None:
    assert column_names(" id, customer ") == ("id", "customer")
    assert column_names('["a, b", "c"]') == ("a, b", "c")
    assert column_names("") == ()


def test_progress_reports_rate_and_eta_at_most_once_per_interval() -> None:
    now = [0.0]
    lines: List[str] = []

    class Sink:
        def write(self, text: str) -> None:
            lines.append(text)

        def flush(self) -> None:
            return None

    progress = Progress(Sink(), interval=5.0, clock=lambda: now[0])  # type: ignore[arg-type]
    now[0] = 1.0
    progress.update(1_000, 0.1)
    now[0] = 10.0
    progress.update(20_000, 0.25)
    now[0] = 12.0
    progress.update(25_000, 0.3)
    assert lines == [
        "dai-mlflow: scored 20,000 rows (2,000 rows/s, 25% of the input, ETA 0:00:30)\n"
    ]


def test_stale_partials_of_dead_runs_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    dead = tmp_path / f".out.csv.{_dead_pid()}{PARTIAL_SUFFIX}"
    live = tmp_path / f".out.csv.{os.getppid()}{PARTIAL_SUFFIX}"
    other = tmp_path / f".other.csv.1{PARTIAL_SUFFIX}"
    for path in (dead, live, other):
        path.write_text("x")
    remove_stale_partials(target)
    assert not dead.exists() and live.exists() and other.exists()


def test_commit_flushes_the_file_before_the_rename_and_the_folder_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from h2o_dai_py_scoring_mlflow.batch import loop

    target = tmp_path / "out.csv"
    output = loop.PartialOutput(target, file_format(target, "output"))
    output.write(pd.DataFrame({"a": [1.0, 2.0]}))
    events: List[str] = []
    real_fsync, real_replace = os.fsync, Path.replace

    def fsync(descriptor: int) -> None:
        events.append("fsync " + os.readlink(f"/proc/self/fd/{descriptor}"))
        real_fsync(descriptor)

    def replace(self: Path, other: Path) -> Path:
        events.append("rename")
        return real_replace(self, other)

    monkeypatch.setattr(loop.os, "fsync", fsync)
    monkeypatch.setattr(Path, "replace", replace)
    output.commit()
    assert events == [f"fsync {output.partial}", "rename", f"fsync {tmp_path}"]
    assert target.read_text().splitlines()[0] == "a"

    def unsupported(descriptor: int) -> None:
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(loop.os, "fsync", unsupported)
    again = loop.PartialOutput(target, file_format(target, "output"))
    again.write(pd.DataFrame({"a": [3.0]}))
    again.commit()  # a file system that cannot sync (a FUSE mount) is not an error
    assert target.read_text().splitlines()[1].startswith("3")


def test_stale_partial_clean_up_matches_names_exactly_not_as_patterns(tmp_path: Path) -> None:
    """`out[1].csv` as a glob would match `out1.csv`'s partials, and the pid was cut by length:
    another live job's partial could go. Only the target's own partials of dead runs go."""
    target = tmp_path / "out[1].csv"
    other_live = tmp_path / f".out1.csv.{os.getppid()}{PARTIAL_SUFFIX}"
    other_dead = tmp_path / f".out1.csv.{_dead_pid()}{PARTIAL_SUFFIX}"
    own_dead = tmp_path / f".out[1].csv.{_dead_pid()}{PARTIAL_SUFFIX}"
    for path in (other_live, other_dead, own_dead):
        path.write_text("x")
    remove_stale_partials(target)
    assert other_live.exists() and other_dead.exists() and not own_dead.exists()


@pytest.mark.slow
def test_ctrl_c_on_the_caller_stops_the_child_and_cleans_up(
    binary: SampleResult, env: Dict[str, str], big_inputs: Dict[int, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out.parquet"
    argv = _slow_run(binary, big_inputs[400_000], out)
    caller = subprocess.Popen(
        at_a_terminal(argv), cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
    )
    _partial_appears(out)
    caller.send_signal(signal.SIGINT)
    _, stderr = caller.communicate(timeout=60)
    assert caller.returncode == 130, stderr
    assert "interrupted" in stderr
    assert not out.exists() and leftovers(tmp_path) == []


def test_a_bad_license_is_one_clear_error_that_never_shows_the_key(
    binary: SampleResult, env_root: Path, tmp_path: Path
) -> None:
    key = "not-a-real-key-" + "k" * 24
    variables = cli_env(env_root, DRIVERLESS_AI_LICENSE_KEY=key, HOME=str(tmp_path))
    source = tmp_path / "in.csv"
    _inputs(10).to_csv(source, index=False)
    done = score(binary, variables, tmp_path, "--input-path", str(source), "--output-path", "o.csv")
    assert done.returncode == 1
    assert "The Driverless AI license is missing or invalid" in done.stderr
    assert key not in done.stderr + done.stdout
    assert not (tmp_path / "o.csv").exists() and leftovers(tmp_path) == []


def test_a_logged_models_own_apply_data_recipes_is_the_default(tmp_path: Path) -> None:
    """score --model-uri takes apply_data_recipes from the model's MLmodel (the pyfunc flavor's
    `config`, where save_model(model_config=...) puts it) unless told otherwise."""
    model = tmp_path / "model"
    shutil.copytree(REPO / "tests" / "fixtures" / "models" / "flat-layout-binary", model)
    (model / "artifacts" / "scoring-pipeline").mkdir(parents=True)
    assert model_folder(model).apply_data_recipes is False
    mlmodel = model / "MLmodel"
    text = mlmodel.read_text()
    mlmodel.write_text(text.replace("apply_data_recipes: false", "apply_data_recipes: true", 1))
    assert model_folder(model).apply_data_recipes is True
