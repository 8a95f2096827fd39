"""log_model end to end: from Python 3.11 + MLflow 3.x into its default store, the model restores in
fresh environments and predicts exactly what the scorer returns; bad input fails cleanly."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import HELPERS, REPO
from helpers.cli import cli_env, dai_mlflow
from helpers.servers import free_port

from h2o_dai_py_scoring_mlflow.model.environment import model_environment
from h2o_dai_py_scoring_mlflow.runtime import processes
from h2o_dai_py_scoring_mlflow.runtime.environments import (
    PythonEnvironment,
)
from h2o_dai_py_scoring_mlflow.runtime.interpreters import Interpreter
from h2o_dai_py_scoring_mlflow.runtime.scorer import ScoringEnvironment, score_frame
from h2o_dai_py_scoring_mlflow.samples import SampleResult, build_sample
from h2o_dai_py_scoring_mlflow.samples.datasets import make_dataset
from h2o_dai_py_scoring_mlflow.settings import load_settings

pytestmark = pytest.mark.slow
KINDS = ["binary", "multiclass", "regression", "timeseries"]


@pytest.fixture(scope="session")
def zipped(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], SampleResult]:
    cache: Dict[str, SampleResult] = {}

    def make(kind: str) -> SampleResult:
        if kind not in cache:
            folder = tmp_path_factory.mktemp(f"zip-{kind}")
            cache[kind] = build_sample(kind, folder, rows=1500, zip_output=True)
        return cache[kind]

    return make


def _servers_for(folder: Path) -> List[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "mlflow" in cmdline and " server " in cmdline and str(folder) in cmdline:
            found.append(cmdline)
    return found


@dataclass(frozen=True)
class Logged:
    folder: Path
    done: subprocess.CompletedProcess[str]
    result: Dict[str, Any]


@pytest.fixture(scope="module")
def logged(
    tmp_path_factory: pytest.TempPathFactory,
    zipped: Callable[[str], SampleResult],
    env_root: Path,
) -> Dict[str, Logged]:
    """Each kind logged once, from Python 3.11 + MLflow 3.x, into its own empty folder."""
    runs = {}
    for kind in KINDS:
        folder = tmp_path_factory.mktemp(f"caller-{kind}")
        sample = zipped(kind)
        env = cli_env(env_root, DRIVERLESS_AI_LICENSE_FILE=str(sample.license_file))
        args = ["log-model", str(sample.pipeline), "--registered-model-name", "m", "--json"]
        done = dai_mlflow(args, folder, env)
        assert done.returncode == 0, done.stderr
        runs[kind] = Logged(folder, done, json.loads(done.stdout.strip().splitlines()[-1]))
    return runs


@pytest.mark.parametrize("kind", KINDS)
def test_log_model_from_mlflow3_default_store(kind: str, logged: Dict[str, Logged]) -> None:
    """An empty folder, Python 3.11, MLflow 3.x, default store: run and version land there."""
    folder, result = logged[kind].folder, logged[kind].result
    assert result["registered_model_name"] == "m" and result["registered_model_version"] == "1"
    assert result["model_uri"] == f"runs:/{result['run_id']}/h2o_dai_scoring_pyfunc"
    assert result["signature_outputs"]
    assert (folder / "mlflow.db").is_file()
    assert _servers_for(folder) == []

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")
    run = client.get_run(result["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["dai_export"] == "scorer.zip"
    files = {f.path for f in client.list_artifacts(result["run_id"], "h2o_dai_scoring_pyfunc")}
    assert "h2o_dai_scoring_pyfunc/MLmodel" in files
    version = client.get_model_version("m", "1")
    assert version.run_id == result["run_id"]


def test_log_model_again_offline_from_a_warm_cache(
    zipped: Callable[[str], SampleResult], tmp_path: Path
) -> None:
    """With uv offline and a new environment cache, environments are rebuilt from uv's cache."""
    sample = zipped("binary")
    env = cli_env(
        tmp_path / "envs", DRIVERLESS_AI_LICENSE_FILE=str(sample.license_file), UV_OFFLINE="1"
    )
    done = dai_mlflow(["log-model", str(sample.pipeline), "--json"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert "Building Python 3.8" in done.stderr


def test_artifact_path_experiment_and_default_export_settings(
    zipped: Callable[[str], SampleResult], env_root: Path, tmp_path: Path
) -> None:
    sample = zipped("regression")
    env = cli_env(
        env_root,
        H2O_DAI_MLFLOW_ARTIFACT_PATH="models/dai",
        H2O_DAI_MLFLOW_EXPERIMENT="dai-exports",
        SCORING_PIPELINE_DIR=str(sample.pipeline),
    )
    done = dai_mlflow(["log-model", "--json"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["model_uri"].endswith("/models/dai")
    assert result["signature_outputs"] == []
    assert "has inputs but no outputs" in done.stderr
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment(client.get_run(result["run_id"]).info.experiment_id)
    assert experiment.name == "dai-exports"


def _model_dir(folder: Path, result: Dict[str, Any]) -> Path:
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")
    uri = client.get_run(result["run_id"]).info.artifact_uri
    return Path(uri.replace("file://", "")) / result["artifact_path"]


@pytest.fixture(scope="module")
def logged_models(logged: Dict[str, Logged]) -> Dict[str, Path]:
    return {kind: _model_dir(run.folder, run.result) for kind, run in logged.items()}


def _unseen(kind: str) -> pd.DataFrame:
    frame = make_dataset(kind, rows=200, seed=4242).train.head(40)
    return frame if kind == "timeseries" else frame.iloc[:, :-1]


def _direct(scoring: ScoringEnvironment, sample: SampleResult, frame: pd.DataFrame) -> np.ndarray:
    split = json.loads(frame.to_json(orient="split", index=False))
    folder = Path(str(sample.pipeline))
    scores = score_frame(
        scoring.environment,
        folder,
        split,
        extra_env={"DRIVERLESS_AI_LICENSE_FILE": str(sample.license_file)},
    )
    return np.array(scores.rows)


def _model_environment(python38: Interpreter, model: Path, env_root: Path) -> PythonEnvironment:
    """A fresh environment built only from the model's own python_env.yaml and requirements.txt."""
    python_env = yaml.safe_load((model / "python_env.yaml").read_text())
    assert python_env["python"] == str(python38.version)
    return model_environment(model, load_settings({"MLFLOW_ENV_ROOT": str(env_root)}))


def _post(url: str, payload: Dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(log.read_text())


@pytest.mark.parametrize("kind", ["binary", "multiclass", "timeseries"])
def test_mlflow_2_17_serves_the_model_from_its_own_files(
    kind: str,
    logged_models: Dict[str, Path],
    zipped: Callable[[str], SampleResult],
    sample_factory: Callable[[str], SampleResult],
    scoring_env_factory: Callable[[str], ScoringEnvironment],
    python38: Interpreter,
    env_root: Path,
    tmp_path: Path,
) -> None:
    model = logged_models[kind]
    env = _model_environment(python38, model, env_root)
    frame = _unseen(kind)
    port = free_port()
    variables = processes.child_environment(
        {
            "PATH": f"{env.path / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "DRIVERLESS_AI_LICENSE_FILE": str(zipped(kind).license_file),
        }
    )
    log = tmp_path / "serve.log"
    argv = [env.python, "-m", "mlflow", "models", "serve", "-m", model, "--env-manager", "local"]
    server = processes.start(
        [*argv, "-h", "127.0.0.1", "-p", str(port)], log=log, env=variables, cwd=tmp_path
    )
    try:
        _wait(f"http://127.0.0.1:{port}/ping", server, log)
        body = {"dataframe_split": json.loads(frame.to_json(orient="split", index=False))}
        served = _post(f"http://127.0.0.1:{port}/invocations", body)["predictions"]
        missing = _post_error(port, frame.drop(columns=[frame.columns[0]]))
    finally:
        processes.stop(server)
    expected = _direct(scoring_env_factory(kind), sample_factory(kind), frame)
    got = np.array([[row[c] for c in row] for row in served])
    assert got.shape == expected.shape
    assert np.array_equal(got, expected)
    assert frame.columns[0] in missing


def _post_error(port: int, frame: pd.DataFrame) -> str:
    body = {"dataframe_split": json.loads(frame.to_json(orient="split", index=False))}
    try:
        _post(f"http://127.0.0.1:{port}/invocations", body)
    except urllib.error.HTTPError as exc:
        return str(exc.read().decode())
    raise AssertionError("a frame without a required column was accepted")


def test_wrapper_accepts_frames_records_and_split_and_names_missing_columns(
    logged_models: Dict[str, Path],
    zipped: Callable[[str], SampleResult],
    python38: Interpreter,
    env_root: Path,
) -> None:
    model = logged_models["binary"]
    env = _model_environment(python38, model, env_root)
    variables = {"DRIVERLESS_AI_LICENSE_FILE": str(zipped("binary").license_file)}
    done = processes.run(
        [env.python, HELPERS / "pyfunc_probe.py", model],
        env=processes.child_environment(variables),
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["frame"] == report["reordered"] == report["records"] == report["split"]
    assert report["contribs_columns"][-1] == "contrib_bias"
    margins = np.array(report["margin"])[:, 0]
    assert np.allclose(1 / (1 + np.exp(-margins)), np.array(report["frame"])[:, 1])
    assert "Missing input column(s): EDUCATION" in report["missing"]


def _with_missing_values(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with, for each column, one row where it is missing, and one all-missing row."""
    rows = frame.astype(object).copy()
    for position in range(len(rows.columns)):
        rows.iloc[position, position] = None
    empty = pd.DataFrame([[None] * len(rows.columns)], columns=rows.columns)
    return pd.concat([rows, empty], ignore_index=True)


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_mlflow3_models_predict_with_uv_restores_and_predicts_exactly(
    kind: str,
    logged_models: Dict[str, Path],
    zipped: Callable[[str], SampleResult],
    sample_factory: Callable[[str], SampleResult],
    scoring_env_factory: Callable[[str], ScoringEnvironment],
    python38: Interpreter,
    tmp_path: Path,
) -> None:
    """MLflow 3.x, env_manager="uv", the 3.8 interpreter put on PATH as README documents, on
    rows with a missing value in every column (as real requests have them)."""
    frame = _with_missing_values(_unseen(kind))
    split = json.loads(frame.to_json(orient="split", index=False))
    (tmp_path / "input.json").write_text(json.dumps({"dataframe_split": split}))
    code = (
        "import sys, mlflow\n"
        "mlflow.models.predict(model_uri=sys.argv[1], input_path=sys.argv[2], "
        "content_type='json', output_path=sys.argv[3], env_manager='uv')\n"
    )
    env = {
        **os.environ,
        "PATH": f"{python38.path.parent}{os.pathsep}{os.environ['PATH']}",
        "DRIVERLESS_AI_LICENSE_FILE": str(zipped(kind).license_file),
    }
    output = tmp_path / "out.json"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(logged_models[kind]),
            str(tmp_path / "input.json"),
            str(output),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    predictions = json.loads(output.read_text())["predictions"]
    got = np.array([[row[c] for c in row] for row in predictions])
    assert np.array_equal(got, _direct(scoring_env_factory(kind), sample_factory(kind), frame))


def test_mlflow_run_inside_python38_against_a_2_17_store_and_a_3x_server(
    project_env: PythonEnvironment,
    zipped: Callable[[str], SampleResult],
    tmp_path: Path,
    env_root: Path,
) -> None:
    sample = zipped("binary")
    uv_dir = Path(shutil.which("uv") or Path(sys.executable).parent / "uv").parent
    base = {
        **cli_env(env_root),
        "PATH": os.pathsep.join([str(project_env.path / "bin"), str(uv_dir), os.environ["PATH"]]),
        "DRIVERLESS_AI_LICENSE_FILE": str(sample.license_file),
    }
    mlflow_run = [
        project_env.path / "bin" / "mlflow", "run", REPO, "-e", "log_model",
        "-P", f"scoring_dir={sample.pipeline}", "--env-manager", "local",
    ]  # fmt: skip
    store = tmp_path / "store217"
    store.mkdir()
    owned = processes.run(
        mlflow_run,
        env={**base, "MLFLOW_TRACKING_URI": f"sqlite:///{store / 'mlflow.db'}"},
        cwd=store,
    )
    assert '"registered_model_version": null' in owned.stdout
    check = (
        "import mlflow; runs = mlflow.search_runs(search_all_experiments=True); "
        "print(len(runs), runs['params.dai_export'][0])"
    )
    count = processes.run(
        [project_env.python, "-c", check],
        env={**base, "MLFLOW_TRACKING_URI": f"sqlite:///{store / 'mlflow.db'}"},
    )
    assert count.stdout.strip().splitlines()[-1] == "1 scorer.zip"

    server_dir = tmp_path / "server3"
    server_dir.mkdir()
    port = free_port()
    log = tmp_path / "server.log"
    server = processes.start(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
         f"sqlite:///{server_dir / 'mlflow.db'}", "--default-artifact-root",
         (server_dir / "mlruns").as_uri(), "--no-serve-artifacts",
         "--host", "127.0.0.1", "--port", str(port)],
        log=log,
    )  # fmt: skip
    try:
        _wait(f"http://127.0.0.1:{port}/health", server, log)
        url = f"http://127.0.0.1:{port}"
        processes.run(
            [*mlflow_run, "-P", "registered_model_name=served"],
            env={**base, "MLFLOW_TRACKING_URI": url},
            cwd=server_dir,
        )
        version = mlflow.MlflowClient(tracking_uri=url).get_model_version("served", "1")
        assert version.status == "READY"
    finally:
        processes.stop(server)


@pytest.mark.parametrize("path", ["", "../outside", "/abs/path", "a/./b"])
def test_unsafe_artifact_path_is_refused(
    path: str, sample_factory: Callable[[str], SampleResult], env_root: Path, tmp_path: Path
) -> None:
    done = dai_mlflow(
        ["log-model", str(sample_factory("binary").pipeline), "--artifact-path", path],
        tmp_path,
        cli_env(env_root),
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[0].startswith(f"ERROR: --artifact-path={path!r} is not valid")
    assert list(tmp_path.iterdir()) == []


def test_a_store_the_callers_mlflow_refuses_is_one_error_line_not_a_traceback(
    sample_factory: Callable[[str], SampleResult], env_root: Path, tmp_path: Path
) -> None:
    """MLflow 3.x refuses file stores unless MLFLOW_ALLOW_FILE_STORE is set: its own message,
    with the fix it names, is what the user sees."""
    sample = sample_factory("binary")
    env = cli_env(
        env_root,
        DRIVERLESS_AI_LICENSE_FILE=str(sample.license_file),
        MLFLOW_TRACKING_URI=(tmp_path / "mlruns").as_uri(),
    )
    done = dai_mlflow(["log-model", str(sample.pipeline)], tmp_path, env)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1 and errors[0].startswith("ERROR: MLflow: "), done.stderr
    assert "MLFLOW_ALLOW_FILE_STORE" in done.stderr


def test_unity_catalog_registration_without_license_is_refused(
    sample_factory: Callable[[str], SampleResult], env_root: Path, tmp_path: Path
) -> None:
    env = cli_env(env_root, MLFLOW_REGISTRY_URI="databricks-uc", HOME=str(tmp_path / "home"))
    done = dai_mlflow(
        ["log-model", str(sample_factory("binary").pipeline), "--registered-model-name", "c.s.m"],
        tmp_path,
        env,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[0].startswith("ERROR: Unity Catalog needs a model signature")
    assert "DRIVERLESS_AI_LICENSE_KEY" in done.stderr
    assert list(tmp_path.iterdir()) == []


def _saved(
    project_env: PythonEnvironment,
    export: Path,
    tmp_path: Path,
    env_root: Path,
    *,
    default_pyspark: bool = False,
    **settings: str,
) -> Dict[str, Any]:
    """Save the model inside the Project's 3.8 env (no license: no model env is built)."""
    target = tmp_path / f"model-{len(list(tmp_path.iterdir()))}"
    variables = {**cli_env(env_root), "HOME": str(tmp_path), **settings}
    if default_pyspark:
        del variables["H2O_DAI_MLFLOW_PYSPARK_VERSION"]
    done = processes.run(
        [project_env.python, HELPERS / "save_model_probe.py", export, target], env=variables
    )
    saved: Dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return saved


def _requirement_lines(saved: Dict[str, Any]) -> List[str]:
    return [
        line.split("  #")[0]
        for line in saved["requirements.txt"].splitlines()
        if line and not line.startswith("#")
    ]


def test_model_files_have_provenance_and_defaults(
    project_env: PythonEnvironment,
    sample_factory: Callable[[str], SampleResult],
    python38: Interpreter,
    tmp_path: Path,
    env_root: Path,
) -> None:
    saved = _saved(
        project_env, sample_factory("binary").pipeline, tmp_path, env_root, default_pyspark=True
    )
    lines = _requirement_lines(saved)
    assert lines[0].startswith("artifacts/scoring-pipeline/scoring_h2oai_experiment_")
    assert lines[1] == "artifacts/scoring-pipeline/h2oaicore-1.10.7.3-cp38-cp38-linux_x86_64.whl"
    for pin in (
        "importlib-resources==5.12.0",
        "pyspark==3.3.2",
        "mlflow==2.17.2",
        "cgroupspy==0.2.2",
    ):
        assert pin in lines
    assert "requests==2.28.1" in lines and "requests==2.26.0" not in lines
    assert not any(line.startswith(("h2o4gpu", "pyorc")) for line in lines)
    text = saved["requirements.txt"]
    header = text.splitlines()[:2]
    assert header[0] == "# requirements.txt of an H2O DAI scoring pipeline model"
    assert header[1].startswith(
        "# Generated by h2o_dai_py_scoring_mlflow 0.1.0 from the DAI export"
    )
    assert "# excluded: h2o4gpu==0.20.0  (GPU-only" in text
    assert "raised from the export's requests==2.26.0" in text
    python_env = yaml.safe_load(saved["python_env.yaml"])
    assert python_env["python"] == str(python38.version)
    assert python_env["dependencies"] == ["-r requirements.txt"]
    conda = yaml.safe_load(saved["conda.yaml"])
    assert "libopenblas=0.3.30" in conda["dependencies"] and "libmagic" in conda["dependencies"]
    assert conda["variables"] == {
        "PYTHONPATH": "",
        "SPARK_HOME": "",
        "PYSPARK_PYTHON": "",
        "PYSPARK_DRIVER_PYTHON": "",
    }
    assert saved["code"] == ["h2o_dai_pyfunc_model.py", "h2o_dai_shims.py"]
    assert any(name.startswith("h2oaicore-") for name in saved["artifacts"])
    mlmodel = yaml.safe_load(saved["MLmodel"])
    assert mlmodel["flavors"]["python_function"]["python_version"] == str(python38.version)
    assert mlmodel["mlflow_version"] == "2.17.2"
    assert mlmodel["saved_input_example_info"]["serving_input_path"] == "serving_input_example.json"


@pytest.mark.parametrize(
    ("setting", "value", "present", "absent"),
    [
        (
            "H2O_DAI_MLFLOW_EXCLUDE_PACKAGES",
            "tabulate,scipy",
            [],
            ["tabulate==0.9.0", "scipy==1.7.0"],
        ),
        ("H2O_DAI_MLFLOW_ENV_YAML_PIP_ALLOWLIST", "none", [], ["cgroupspy==0.2.2"]),
        ("H2O_DAI_MLFLOW_IMPORTLIB_RESOURCES_VERSION", "none", [], ["importlib-resources==5.12.0"]),
        ("H2O_DAI_MLFLOW_IMPORTLIB_RESOURCES_VERSION", "6.0.0", ["importlib-resources==6.0.0"], []),
        ("H2O_DAI_MLFLOW_DISABLE_IMPORTLIB_RESOURCES", "1", [], ["importlib-resources==5.12.0"]),
        ("H2O_DAI_MLFLOW_PYSPARK_VERSION", "none", [], ["pyspark==3.3.2"]),
        ("H2O_DAI_MLFLOW_PYSPARK_VERSION", "3.5.1", ["pyspark==3.5.1"], []),
        ("H2O_DAI_MLFLOW_PSUTIL_VERSION", "5.9.8", ["psutil==5.9.8"], ["psutil==5.8.0"]),
    ],
)
def test_each_setting_changes_the_logged_requirements(
    setting: str,
    value: str,
    present: List[str],
    absent: List[str],
    project_env: PythonEnvironment,
    sample_factory: Callable[[str], SampleResult],
    tmp_path: Path,
    env_root: Path,
) -> None:
    saved = _saved(
        project_env, sample_factory("binary").pipeline, tmp_path, env_root, **{setting: value}
    )
    lines = _requirement_lines(saved)
    assert all(pin in lines for pin in present), lines
    assert not any(pin in lines for pin in absent), lines


def test_openblas_setting_changes_conda_yaml(
    project_env: PythonEnvironment,
    sample_factory: Callable[[str], SampleResult],
    tmp_path: Path,
    env_root: Path,
) -> None:
    saved = _saved(
        project_env, sample_factory("binary").pipeline, tmp_path, env_root,
        H2O_DAI_MLFLOW_OPENBLAS_VERSION="0.3.21",
    )  # fmt: skip
    assert "libopenblas=0.3.21" in yaml.safe_load(saved["conda.yaml"])["dependencies"]


def test_the_prototypes_disable_pyspark_leaves_the_default_pin_out(
    project_env: PythonEnvironment,
    sample_factory: Callable[[str], SampleResult],
    tmp_path: Path,
    env_root: Path,
) -> None:
    export = sample_factory("binary").pipeline
    pinned = _saved(project_env, export, tmp_path, env_root, default_pyspark=True)
    assert "pyspark==3.3.2" in _requirement_lines(pinned)
    disabled = _saved(project_env, export, tmp_path, env_root, default_pyspark=True,
                      H2O_DAI_MLFLOW_DISABLE_PYSPARK="1")  # fmt: skip
    assert not any(line.startswith("pyspark") for line in _requirement_lines(disabled))


def test_disable_openblas_and_libmagic_leave_them_out_of_conda_yaml(
    project_env: PythonEnvironment,
    sample_factory: Callable[[str], SampleResult],
    tmp_path: Path,
    env_root: Path,
) -> None:
    saved = _saved(
        project_env, sample_factory("binary").pipeline, tmp_path, env_root,
        H2O_DAI_MLFLOW_DISABLE_OPENBLAS="1", H2O_DAI_MLFLOW_DISABLE_LIBMAGIC="1",
    )  # fmt: skip
    names = [str(d).split("=")[0] for d in yaml.safe_load(saved["conda.yaml"])["dependencies"]]
    assert "libopenblas" not in names and "libgfortran" not in names and "libmagic" not in names
    assert "libgcc-ng" in names and names[0] == "python"


def test_a_shipped_pyorc_wheel_is_used_instead_of_excluding_pyorc(
    project_env: PythonEnvironment,
    sample_factory: Callable[[str], SampleResult],
    tmp_path: Path,
    env_root: Path,
) -> None:
    export = tmp_path / "export"
    shutil.copytree(sample_factory("binary").pipeline, export)
    with zipfile.ZipFile(export / "pyorc-0.9.0-cp38-cp38-manylinux_2_17_x86_64.whl", "w") as wheel:
        wheel.writestr("pyorc/__init__.py", "")
    saved = _saved(project_env, export, tmp_path, env_root)
    lines = _requirement_lines(saved)
    assert "artifacts/scoring-pipeline/pyorc-0.9.0-cp38-cp38-manylinux_2_17_x86_64.whl" in lines


def test_log_model_runs_inline_on_a_python38_with_mlflow_2_17(
    project_env: PythonEnvironment,
    sample_factory: Callable[[str], SampleResult],
    env_root: Path,
    tmp_path: Path,
) -> None:
    """On the inside itself no Project env is launched and no server is started."""
    env = cli_env(
        env_root, HOME=str(tmp_path), MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'inline.db'}"
    )
    argv = [project_env.python, "-m", "h2o_dai_py_scoring_mlflow.cli", "log-model"]
    done = processes.run(
        [*argv, sample_factory("binary").pipeline, "--json"], env=env, cwd=tmp_path
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "Serving the local tracking store" not in done.stderr
    check = "import mlflow, sys; print(mlflow.get_run(sys.argv[1]).data.params['dai_export'])"
    shown = processes.run([project_env.python, "-c", check, result["run_id"]], env=env)
    assert shown.stdout.strip().splitlines()[-1] == "scoring-pipeline"
