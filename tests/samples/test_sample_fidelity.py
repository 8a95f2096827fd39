"""The synthetic scorer behaves like a real DAI 1.10 one, in a real Python 3.8 environment
built from the export's own requirements (h2o4gpu/pyorc excluded, importlib-resources added)."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any, Callable, Dict, Optional

import numpy as np
import pytest
from conftest import HELPERS, licensed_env

from h2o_dai_py_scoring_mlflow.runtime import processes
from h2o_dai_py_scoring_mlflow.runtime.project import shims_dir
from h2o_dai_py_scoring_mlflow.runtime.scorer import ScoringEnvironment
from h2o_dai_py_scoring_mlflow.samples import SampleResult
from h2o_dai_py_scoring_mlflow.samples.datasets import make_dataset
from h2o_dai_py_scoring_mlflow.samples.wheel_sources.h2oaicore import licensing

pytestmark = pytest.mark.slow

EXPECTED_COLUMNS = {
    "binary": ["default payment next month.0", "default payment next month.1"],
    "multiclass": ["risk band.high risk", "risk band.low risk", "risk band.medium, watch"],
    "regression": ["sale_price"],
    "timeseries": ["unweighted_ili"],
}


def probe(
    env: ScoringEnvironment,
    sample: SampleResult,
    workdir: Path,
    *flags: str,
    extra: Optional[Dict[str, str]] = None,
) -> Dict[str, Any]:
    """Run the probe inside the 3.8 env; return its JSON report (or error)."""
    argv = [
        env.environment.python,
        HELPERS / "scorer_probe.py",
        "--pipeline",
        sample.pipeline,
        "--shims",
        shims_dir(),
        *flags,
    ]
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    variables = licensed_env(sample.license_file, home)
    variables.update(extra or {})
    done = processes.run(argv, env=processes.child_environment(variables), cwd=workdir, check=False)
    assert done.returncode in (0, 3), done.stderr
    report: Dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@pytest.fixture()
def binary(
    sample_factory: Callable[[str], SampleResult],
    scoring_env_factory: Callable[[str], ScoringEnvironment],
) -> tuple[ScoringEnvironment, SampleResult]:
    return scoring_env_factory("binary"), sample_factory("binary")


def test_bare_python38_fails_on_importlib_resources_files(binary, tmp_path):
    """Without the shims, Python 3.8 lacks importlib.resources.files and the scorer cannot load."""
    env, sample = binary
    report = probe(env, sample, tmp_path)
    assert report["error"] == "AttributeError"
    assert "importlib.resources" in report["message"] and "files" in report["message"]


def test_shims_make_the_scorer_start(binary, tmp_path):
    """With the shims applied first, the same environment scores."""
    env, sample = binary
    report = probe(env, sample, tmp_path, "--apply-shims")
    assert "error" not in report, report
    assert report["columns"] == EXPECTED_COLUMNS["binary"]


def test_openblas_in_the_environments_lib_is_found_only_through_the_preload_shim(binary, tmp_path):
    """The h2oaicore wheel puts a real libopenblas.so.0 into the environment's lib/ folder (as
    conda does) and loads it by soname when its runtime starts: without the preload the loader
    does not find it; with it the scorer starts."""
    env, sample = binary
    assert (env.environment.path / "lib" / "libopenblas.so.0").is_file()
    skip = ("--skip", "preload_native_libraries")
    broken = probe(env, sample, tmp_path, "--apply-shims", *skip)
    assert broken["error"] == "ImportError"
    assert "libopenblas.so.0" in broken["message"]
    fixed = probe(env, sample, tmp_path, "--apply-shims")
    assert "error" not in fixed, fixed


def test_stream_without_fileno_breaks_the_scorer_and_the_shim_fixes_it(binary, tmp_path):
    """A host's StreamToLogger in place of sys.stdout breaks h2oaicore; the shim wraps it."""
    env, sample = binary
    skip = ("--skip", "fix_stream_filenos")
    broken = probe(env, sample, tmp_path, "--break-fileno", "--apply-shims", *skip)
    assert broken["error"] == "AttributeError"
    assert "'StreamToLogger' object has no attribute 'fileno'" in broken["message"]
    fixed = probe(env, sample, tmp_path, "--break-fileno", "--apply-shims")
    assert "error" not in fixed, fixed


def test_psutil_without_rlim_infinity_breaks_the_scorer_and_the_shim_fixes_it(binary, tmp_path):
    env, sample = binary
    skip = ("--skip", "fix_psutil_limits")
    broken = probe(env, sample, tmp_path, "--drop-rlim", "--apply-shims", *skip)
    assert broken["error"] == "AttributeError"
    assert "RLIM_INFINITY" in broken["message"]
    fixed = probe(env, sample, tmp_path, "--drop-rlim", "--apply-shims")
    assert "error" not in fixed, fixed


def test_scorer_writes_tmp_logs_under_the_working_directory(binary, tmp_path):
    env, sample = binary
    probe(env, sample, tmp_path, "--apply-shims")
    logs = sorted(p.name for p in (tmp_path / "tmp").iterdir())
    assert "h2oai_server.log" in logs
    text = (tmp_path / "tmp" / "h2oai_server.log").read_text()
    assert "License is valid" in text and "Submitted 0 and Completed 0" in text


def test_read_only_working_directory_breaks_the_scorer_and_the_shim_moves_it(binary, tmp_path):
    """/proc refuses new files even for root, like a read-only serving filesystem."""
    env, sample = binary
    argv = [env.environment.python, HELPERS / "scorer_probe.py", "--pipeline", sample.pipeline]
    argv += ["--shims", shims_dir(), "--apply-shims"]
    child = processes.child_environment(licensed_env(sample.license_file, tmp_path))
    broken = processes.run(
        [*argv, "--skip", "ensure_writable_workdir"], env=child, cwd=Path("/proc"), check=False
    )
    assert json.loads(broken.stdout.splitlines()[-1])["error"] in (
        "FileNotFoundError",
        "PermissionError",
    )
    fixed = processes.run(argv, env=child, cwd=Path("/proc"), check=False)
    assert "error" not in json.loads(fixed.stdout.splitlines()[-1])


@pytest.mark.parametrize(
    ("license_text", "expected"),
    [
        (None, "No valid Driverless AI license found"),
        ("not-a-license", "Invalid license"),
        ("EXPIRED", "License expired"),
        ("TAMPERED", "invalid signature"),
    ],
)
def test_scorer_refuses_to_start_without_a_valid_license(binary, tmp_path, license_text, expected):
    env, sample = binary
    home = tmp_path / "home"
    home.mkdir()
    if license_text == "EXPIRED":
        license_text = licensing.encode_license(
            {"license_type": "demo", "expiration_date": "2020/01/31"}
        )
    elif license_text == "TAMPERED":
        genuine = sample.license_file.read_text().strip()
        license_text = (
            licensing.encode_license({"expiration_date": "2099/01/01"})[:-8] + genuine[-8:]
        )
    variables = {"HOME": str(home)}
    if license_text is not None:
        variables["DRIVERLESS_AI_LICENSE_KEY"] = license_text
    argv = [env.environment.python, HELPERS / "scorer_probe.py", "--pipeline", sample.pipeline]
    done = processes.run(
        [*argv, "--shims", shims_dir(), "--apply-shims"],
        env=processes.child_environment(variables),
        cwd=tmp_path,
        check=False,
    )
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["error"] == "LicenseError"
    assert expected in report["message"]
    assert "DRIVERLESS_AI_LICENSE_KEY" in report["message"]
    assert "DRIVERLESS_AI_LICENSE_FILE" in report["message"]
    if license_text is not None:
        assert license_text not in report["message"]


def test_license_in_the_default_home_location_is_accepted(binary, tmp_path):
    env, sample = binary
    home = tmp_path / "home"
    (home / ".driverlessai").mkdir(parents=True)
    (home / ".driverlessai" / "license.sig").write_text(sample.license_file.read_text())
    argv = [env.environment.python, HELPERS / "scorer_probe.py", "--pipeline", sample.pipeline]
    done = processes.run(
        [*argv, "--shims", shims_dir(), "--apply-shims"],
        env=processes.child_environment({"HOME": str(home)}),
        cwd=tmp_path,
        check=False,
    )
    assert "error" not in json.loads(done.stdout.splitlines()[-1])


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    order = np.argsort(scores)
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    positives = labels.sum()
    negatives = len(labels) - positives
    return float(
        (ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    )


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression", "timeseries"])
def test_every_kind_predicts_deterministically_with_documented_columns(
    kind: str,
    sample_factory: Callable[[str], SampleResult],
    scoring_env_factory: Callable[[str], ScoringEnvironment],
    tmp_path: Path,
) -> None:
    sample, env = sample_factory(kind), scoring_env_factory(kind)
    holdout = make_dataset(kind, rows=600, seed=99).train
    holdout_csv = tmp_path / "holdout.csv"
    holdout.to_csv(holdout_csv, index=False)
    report = probe(env, sample, tmp_path, "--apply-shims", "--input", str(holdout_csv))
    assert "error" not in report, report

    assert report["columns"] == EXPECTED_COLUMNS[kind] == report["pred_columns"]
    assert report["column_names_type"] == "tuple"
    assert report["deterministic"] is True
    predictions = np.array(report["predictions"])
    assert np.allclose(report["row"], predictions[0])
    assert report["both_flags"] == "output_margin and pred_contribs cannot both be True"
    assert report["fit_transform_columns"][:-1] == report["transformed"]

    margins = np.array(report["margins"])
    for name, features in (
        ("contribs", report["transformed"]),
        ("contribs_original", report["column_names"]),
    ):
        contribs = np.array(report[name])
        n_classes = 1 if kind != "multiclass" else 3
        width = len(features) + 1
        assert contribs.shape[1] == n_classes * width
        sums = contribs.reshape(len(contribs), n_classes, width).sum(axis=2)
        assert np.allclose(sums, margins if kind != "binary" else margins[:, -1:])
        expected = [f"contrib_{f}" for f in features] + ["contrib_bias"]
        if kind == "multiclass":
            expected = [f"{c}.{label}" for label in report["labels"] for c in expected]
        assert report[name + "_columns"] == expected

    holdout_predictions = np.array(report["holdout"])
    target = holdout.columns[-1] if kind != "timeseries" else "unweighted_ili"
    if kind == "binary":
        assert report["labels"] == ["0", "1"]
        assert np.allclose(predictions.sum(axis=1), 1.0)
        labels = (holdout[target].astype(str) == "1").to_numpy().astype(int)
        assert _auc(labels, holdout_predictions[:, 1]) > 0.7
    elif kind == "multiclass":
        assert report["labels"] == ["high risk", "low risk", "medium, watch"]
        assert np.allclose(predictions.sum(axis=1), 1.0)
        truth = (
            holdout[target].map({label: i for i, label in enumerate(report["labels"])}).to_numpy()
        )
        assert (holdout_predictions.argmax(axis=1) == truth).mean() > 0.6
    else:
        assert report["labels"] is None
        actual = holdout[target].astype(float).to_numpy()
        known = ~np.isnan(actual)
        residual = actual[known] - holdout_predictions[known, 0]
        r2 = 1 - residual.var() / actual[known].var()
        assert r2 > 0.6, r2


def test_timeseries_uses_history_rows_with_known_target(
    sample_factory: Callable[[str], SampleResult],
    scoring_env_factory: Callable[[str], ScoringEnvironment],
    tmp_path: Path,
) -> None:
    """Test-time augmentation: the target is an input column and history changes forecasts."""
    sample, env = sample_factory("timeseries"), scoring_env_factory("timeseries")
    report = probe(env, sample, tmp_path, "--apply-shims")
    assert report["column_names"] == ["state", "week_start", "unweighted_ili"]
    lag_contribs = np.array(report["contribs"])[
        :, report["transformed"].index(next(t for t in report["transformed"] if "TargetLag" in t))
    ]
    assert len(set(np.round(lag_contribs, 9).tolist())) > 1


def test_sample_license_is_valid_for_a_year() -> None:
    from h2o_dai_py_scoring_mlflow.samples.builder import demo_license

    today = datetime.date(2026, 11, 27)
    properties = licensing.decode_license(demo_license(today), today=today)
    assert properties["expiration_date"] == "2027/11/27"
    with pytest.raises(licensing.LicenseError, match="expired"):
        licensing.decode_license(demo_license(today), today=datetime.date(2027, 11, 28))
