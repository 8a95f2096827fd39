"""`dai-mlflow validate` finds, on the laptop, what Databricks Model Serving would fail on: a good
model passes (served too), and each broken copy of it fails with a message naming the cause."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Callable, Dict

import pytest
import yaml
from helpers.cli import cli_env, dai_mlflow

from h2o_dai_py_scoring_mlflow.checks.serving import free_port
from h2o_dai_py_scoring_mlflow.samples import SampleResult

pytestmark = pytest.mark.slow

FORMATS = ["dataframe_split", "dataframe_records", "inputs", "instances", "csv"]


@pytest.fixture
def model(logged_binary_model: Path, tmp_path: Path) -> Path:
    """A copy of the good model that a test may break."""
    copy = tmp_path / "model"
    shutil.copytree(logged_binary_model, copy)
    return copy


@pytest.fixture
def env(sample_factory: Callable[[str], SampleResult], env_root: Path) -> Dict[str, str]:
    license_file = sample_factory("binary").license_file
    return cli_env(env_root, DRIVERLESS_AI_LICENSE_FILE=str(license_file))


def _validate(model: Path, env: Dict[str, str], cwd: Path, *extra: str) -> Dict[str, object]:
    report = cwd / "report.json"
    args = ["validate", "--model-uri", str(model), "--report", str(report), *extra]
    done = dai_mlflow(args, cwd, env)
    assert report.is_file(), done.stderr
    result: Dict[str, object] = json.loads(report.read_text())
    result["returncode"] = done.returncode
    result["stdout"], result["stderr"] = done.stdout, done.stderr
    return result


def _outcomes(report: Dict[str, object]) -> Dict[str, str]:
    checks = report["checks"]
    assert isinstance(checks, list)
    return {c["name"]: c["outcome"] for c in checks}


def _detail(report: Dict[str, object], name: str) -> str:
    checks = report["checks"]
    assert isinstance(checks, list)
    check = next(c for c in checks if c["name"] == name)
    return f"{check['detail']} | fix: {check['fix']}"


def test_a_good_model_passes_and_every_request_format_equals_the_scorer(
    model: Path, env: Dict[str, str], tmp_path: Path
) -> None:
    report = _validate(model, env, tmp_path, "--serve")
    assert report["returncode"] == 0, report["stderr"]
    outcomes = _outcomes(report)
    assert set(outcomes.values()) == {"passed"}, outcomes
    for form in FORMATS:
        assert outcomes[f"serve: {form}"] == "passed"
    assert "missing values in every column" in _detail(report, "clean-environment predict")
    assert "result: passed" in str(report["stdout"])


def _drop_scorer_wheel(model: Path) -> None:
    next((model / "artifacts" / "scoring-pipeline").glob("scoring_h2oai_experiment_*.whl")).unlink()


def _add_conflicting_pin(model: Path) -> None:
    with (model / "requirements.txt").open("a") as handle:
        handle.write("pandas==1.1.5  # a conflicting pin added by hand\n")


def _drop_outputs(model: Path) -> None:
    mlmodel = yaml.safe_load((model / "MLmodel").read_text())
    del mlmodel["signature"]["outputs"]
    (model / "MLmodel").write_text(yaml.safe_dump(mlmodel))


def _drop_shims(model: Path) -> None:
    (model / "code" / "h2o_dai_shims.py").unlink()


def _plant_license(model: Path) -> None:
    (model / "artifacts" / "scoring-pipeline" / "license.sig").write_text("not a real license")


BROKEN = {
    "scorer wheel removed": (_drop_scorer_wheel, "layout", ["scoring_h2oai_experiment_*.whl"]),
    "conflicting pin": (_add_conflicting_pin, "serving resolution", ["pandas==1.1.5"]),
    "no outputs": (_drop_outputs, "signature", ["0 output(s)", "license"]),
    "shims removed": (_drop_shims, "shims", ["code/h2o_dai_shims.py is missing"]),
    "license inside": (_plant_license, "secrets", ["license.sig is a license file"]),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_model_fails_naming_the_cause(
    case: str, model: Path, env: Dict[str, str], tmp_path: Path
) -> None:
    breaks, check, words = BROKEN[case]
    breaks(model)
    report = _validate(model, env, tmp_path)
    assert report["returncode"] == 1
    assert _outcomes(report)[check] == "failed", _outcomes(report)
    detail = _detail(report, check)
    for word in words:
        assert word in detail, detail
    stderr = str(report["stderr"]).strip().splitlines()
    assert stderr[-2].startswith("ERROR: validation failed") and check in stderr[-2]
    assert stderr[-1].startswith("TIP: ")


def test_no_license_in_the_environment_fails_before_any_scoring(
    model: Path, env_root: Path, tmp_path: Path
) -> None:
    env = cli_env(env_root, HOME=str(tmp_path / "home"))
    report = _validate(model, env, tmp_path)
    assert report["returncode"] == 1
    outcomes = _outcomes(report)
    assert outcomes["license"] == "failed"
    assert outcomes["clean-environment predict"] == "skipped"
    assert "DRIVERLESS_AI_LICENSE_KEY" in _detail(report, "license")


def test_lock_pins_every_package_and_the_locked_model_still_validates(
    model: Path, env: Dict[str, str], tmp_path: Path
) -> None:
    original = (model / "requirements.txt").read_text()
    first = _validate(model, env, tmp_path, "--lock")
    assert first["returncode"] == 0, first["stderr"]
    assert _outcomes(first)["lock"] == "passed"
    assert (model / "requirements.in").read_text() == original
    lines = [
        line
        for line in (model / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    wheels = [line for line in lines if line.startswith("artifacts/scoring-pipeline/")]
    assert len(wheels) == 2
    assert all("==" in line for line in lines if line not in wheels), lines
    assert len(lines) > 40  # every transitive package, not only the direct ones
    conda = yaml.safe_load((model / "conda.yaml").read_text())
    pip_section = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    assert pip_section == lines
    again = _validate(model, env, tmp_path)
    assert again["returncode"] == 0, again["stderr"]
    assert (model / "requirements.in").read_text() == original


def test_an_export_is_validated_by_building_its_model(
    sample_factory: Callable[[str], SampleResult], env: Dict[str, str], tmp_path: Path
) -> None:
    done = dai_mlflow(["validate", str(sample_factory("binary").pipeline), "--json"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ok"] is True
    assert "clean-environment predict" in {c["name"] for c in report["checks"]}
    # Nothing was logged: validating an export builds its model in a scratch folder.
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "mlflow.db").exists()


def test_dai_mlflow_serve_answers_like_the_scorer_and_stops_on_sigterm(
    model: Path, env: Dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "h2o_dai_py_scoring_mlflow.cli", "serve", "--model-uri",
            str(model), "--port", str(port)]  # fmt: skip
    server = subprocess.Popen(argv, env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        split = json.loads((model / "input_example.json").read_text())
        body = json.dumps({"dataframe_split": split}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            predictions = json.loads(response.read())["predictions"]
        assert len(predictions) == len(split["data"])
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=60)
    assert code == 128 + int(signal.SIGTERM)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)


def test_log_model_stores_only_the_exports_own_files(
    sample_factory: Callable[[str], SampleResult], env: Dict[str, str], tmp_path: Path
) -> None:
    """A license, stray files and folders put into the export are not logged (and it says so);
    a symbolic link in it is refused."""
    export = tmp_path / "scoring-pipeline"
    shutil.copytree(sample_factory("binary").pipeline, export)
    shutil.copy(sample_factory("binary").license_file, export / "license.sig")
    (export / "notes.txt").write_text("mine")
    (export / "scratch").mkdir()
    done = dai_mlflow(["log-model", str(export), "--json"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert "Not stored in the model: license.sig (a Driverless AI license" in done.stderr
    stored = next(tmp_path.glob("mlruns/*/*/artifacts/*/artifacts/scoring-pipeline"))
    names = sorted(p.name for p in stored.iterdir())
    assert "license.sig" not in names and "notes.txt" not in names and "scratch" not in names
    assert any(name.startswith("scoring_h2oai_experiment_") for name in names)

    (export / "license.sig").unlink()
    (export / "linked.whl").symlink_to(export / "requirements.txt")
    refused = dai_mlflow(["log-model", str(export)], tmp_path, env)
    assert refused.returncode == 1
    assert "linked.whl is a symbolic link" in refused.stderr
