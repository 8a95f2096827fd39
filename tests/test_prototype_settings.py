"""Coming from the prototype: each of its settings is honoured with the same meaning or refused
with one line naming the replacement, and its command line still logs a model."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Callable, Dict

import pytest
from helpers.cli import cli_env, dai_mlflow

from h2o_dai_py_scoring_mlflow import api
from h2o_dai_py_scoring_mlflow.batch import launch
from h2o_dai_py_scoring_mlflow.bridge.launcher import LogModelRequest
from h2o_dai_py_scoring_mlflow.entrypoint_cli import _optional_batch_size
from h2o_dai_py_scoring_mlflow.errors import SettingError
from h2o_dai_py_scoring_mlflow.samples import SampleResult
from h2o_dai_py_scoring_mlflow.settings import (
    ALL_SETTINGS,
    ProjectMode,
    RetiredSettingError,
    load_settings,
)

PROTOTYPE_SETTINGS = (
    "H2O_DAI_MLFLOW_EXCLUDE_PACKAGES",
    "H2O_DAI_MLFLOW_IMPORTLIB_RESOURCES_VERSION",
    "H2O_DAI_MLFLOW_DISABLE_IMPORTLIB_RESOURCES",
    "H2O_DAI_MLFLOW_PYSPARK_VERSION",
    "H2O_DAI_MLFLOW_DISABLE_PYSPARK",
    "H2O_DAI_MLFLOW_FORCE_CONDA",
    "H2O_DAI_MLFLOW_DISABLE_LIBMAGIC",
    "H2O_DAI_MLFLOW_DISABLE_OPENBLAS",
    "H2O_DAI_MLFLOW_OPENBLAS_VERSION",
    "H2O_DAI_MLFLOW_PSUTIL_VERSION",
    "H2O_DAI_MLFLOW_DISABLE_PROJECT",
    "H2O_DAI_MLFLOW_FORCE_PROJECT",
    "H2O_DAI_MLFLOW_BUILD_PYORC",
    "H2O_DAI_MLFLOW_PYORC_VERSION",
    "DEPLOY_WAIT_TIMEOUT_S",
    "DEPLOY_WAIT_POLL_S",
    "H2O_DAI_MLFLOW_DIAG",
    "MLFLOW_ENV_ROOT",
)


def test_every_prototype_setting_is_declared() -> None:
    declared = {setting.name for setting in ALL_SETTINGS}
    assert [name for name in PROTOTYPE_SETTINGS if name not in declared] == []


@pytest.mark.parametrize(
    ("environ", "field", "value"),
    [
        ({"H2O_DAI_MLFLOW_DISABLE_IMPORTLIB_RESOURCES": "1"}, "importlib_resources_version", ""),
        ({"H2O_DAI_MLFLOW_DISABLE_PYSPARK": "true"}, "pyspark_version", ""),
        ({"H2O_DAI_MLFLOW_DISABLE_OPENBLAS": "1"}, "openblas_version", ""),
        ({"H2O_DAI_MLFLOW_DISABLE_LIBMAGIC": "1"}, "libmagic", False),
        ({"H2O_DAI_MLFLOW_DISABLE_PROJECT": "1"}, "project_mode", ProjectMode.INLINE),
        ({"H2O_DAI_MLFLOW_FORCE_PROJECT": "1"}, "project_mode", ProjectMode.PROJECT),
        ({"H2O_DAI_MLFLOW_PROJECT": "project"}, "project_mode", ProjectMode.PROJECT),
        ({}, "project_mode", ProjectMode.AUTO),
        ({"H2O_DAI_MLFLOW_FORCE_CONDA": "1"}, "libmagic", True),
        ({"H2O_DAI_MLFLOW_PYORC_VERSION": "0.8.0"}, "pyorc_version", "0.8.0"),
        ({"DEPLOY_WAIT_TIMEOUT_S": "600"}, "deploy_wait_timeout_s", 600.0),
        ({"DEPLOY_WAIT_POLL_S": "2.5"}, "deploy_wait_poll_s", 2.5),
    ],
)
def test_prototype_settings_keep_their_meaning(
    environ: Dict[str, str], field: str, value: Any
) -> None:
    assert getattr(load_settings(environ), field) == value


@pytest.mark.parametrize(
    ("environ", "words"),
    [
        ({"H2O_DAI_MLFLOW_FORCE_CONDA": "0"}, "H2O_DAI_MLFLOW_DISABLE_OPENBLAS=1"),
        ({"H2O_DAI_MLFLOW_BUILD_PYORC": "1"}, "dai-mlflow build-pyorc EXPORT"),
    ],
)
def test_retired_prototype_settings_are_refused_naming_the_replacement(
    environ: Dict[str, str], words: str
) -> None:
    with pytest.raises(RetiredSettingError) as raised:
        load_settings(environ)
    assert words in f"{raised.value.message} {raised.value.tip}"


@pytest.mark.parametrize(
    "environ",
    [
        {"H2O_DAI_MLFLOW_DISABLE_PROJECT": "1", "H2O_DAI_MLFLOW_FORCE_PROJECT": "1"},
        {"H2O_DAI_MLFLOW_DISABLE_PROJECT": "1", "H2O_DAI_MLFLOW_PROJECT": "project"},
        {"DEPLOY_WAIT_POLL_S": "0"},
        {"H2O_DAI_MLFLOW_DISABLE_PYSPARK": "maybe"},
    ],
)
def test_contradicting_or_bad_values_name_the_setting(environ: Dict[str, str]) -> None:
    with pytest.raises(SettingError) as raised:
        load_settings(environ)
    assert any(name in raised.value.message for name in environ)


@pytest.mark.parametrize(
    ("setting", "line"),
    [
        ("H2O_DAI_MLFLOW_FORCE_CONDA=0", "ERROR: H2O_DAI_MLFLOW_FORCE_CONDA=0 is not supported"),
        ("H2O_DAI_MLFLOW_BUILD_PYORC=1", "ERROR: H2O_DAI_MLFLOW_BUILD_PYORC=1 is replaced by"),
        ("H2O_DAI_MLFLOW_DISABLE_PROJECT=1", "ERROR: H2O_DAI_MLFLOW_PROJECT=inline (the prototype"),
    ],
)
def test_log_model_refuses_in_one_line_and_writes_nothing(
    setting: str, line: str, sample_factory: Callable[[str], SampleResult],
    env_root: Path, tmp_path: Path,
) -> None:  # fmt: skip
    name, value = setting.split("=")
    done = dai_mlflow(["log-model", str(sample_factory("binary").pipeline)], tmp_path,
                      cli_env(env_root, **{name: value}))  # fmt: skip
    assert done.returncode == 1
    assert [x for x in done.stderr.splitlines() if x.startswith("ERROR:")] == [
        next(x for x in done.stderr.splitlines() if x.startswith("ERROR:"))
    ]
    assert line in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_force_project_builds_in_the_project_even_where_inline_could(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """H2O_DAI_MLFLOW_FORCE_PROJECT=1 on a Python 3.8 with MLflow 2.17: the Project's
    environment builds the model, never this process."""
    chosen = []

    class Launched(Exception):
        pass

    def inline(*args: Any, **kwargs: Any) -> Dict[str, Any]:
        chosen.append("inline")
        return {}

    def launch_project(*args: Any, **kwargs: Any) -> Any:
        chosen.append("project")
        raise Launched

    monkeypatch.setattr(api, "inline_capable", lambda: True)
    monkeypatch.setattr(api, "log_model_inline", inline)
    monkeypatch.setattr(api, "build_command", launch_project)
    request = LogModelRequest(scoring_dir="scorer.zip")
    with pytest.raises(Launched):
        api.log_model(load_settings({"H2O_DAI_MLFLOW_FORCE_PROJECT": "1"}), request)
    api.log_model(load_settings({}), request)
    assert chosen == ["project", "inline"]


def test_batch_size_0_is_the_whole_file_with_a_memory_warning_for_big_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert _optional_batch_size("0") == launch.WHOLE_FILE
    assert _optional_batch_size("") is None and _optional_batch_size("10") == 10
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    small.write_text("a\n1\n")
    big.write_text("a\n" + "1\n" * 5000)
    monkeypatch.setattr(launch, "_WHOLE_FILE_WARN_BYTES", 1000)
    with caplog.at_level(logging.WARNING):
        assert launch._whole_file(small) == launch._ONE_BATCH
        assert caplog.records == []
        assert launch._whole_file(big) == launch._ONE_BATCH
    assert "in one batch" in caplog.records[0].getMessage()


@pytest.mark.slow
def test_the_prototype_command_line_logs_the_model_and_names_the_new_command(
    sample_factory: Callable[[str], SampleResult], env_root: Path, tmp_path: Path
) -> None:
    import subprocess
    import sys

    import mlflow

    sample = sample_factory("binary")
    env = cli_env(env_root, DRIVERLESS_AI_LICENSE_FILE=str(sample.license_file))
    done = subprocess.run(
        [sys.executable, "-m", "h2o_dai_py_scoring_mlflow.mlflow_driverless.deployment",
         str(sample.pipeline), "--artifact-path", "legacy_model", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    notices = [x for x in done.stderr.splitlines() if "is now `dai-mlflow log-model`" in x]
    assert len(notices) == 1
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["model_uri"] == f"runs:/{result['run_id']}/legacy_model"
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    listed = [a.path for a in client.list_artifacts(result["run_id"])]
    assert "legacy_model" in listed


def test_pyorc_version_is_what_build_pyorc_builds_when_nothing_else_names_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from types import SimpleNamespace

    from h2o_dai_py_scoring_mlflow import cli
    from h2o_dai_py_scoring_mlflow.checks import pyorc

    built = []

    def build(settings: Any, scoring_dir: str, *, version: str, echo: bool) -> Any:
        built.append(version)
        return SimpleNamespace(wheel=str(tmp_path / "pyorc.whl"), changed=True, source="index")

    monkeypatch.setattr(pyorc, "build_pyorc", build)
    monkeypatch.setattr(pyorc, "pyorc_version_of", lambda scoring_dir: None)
    monkeypatch.setenv("H2O_DAI_MLFLOW_PYORC_VERSION", "0.8.0")
    assert cli.main(["build-pyorc", str(tmp_path)]) == 0
    monkeypatch.delenv("H2O_DAI_MLFLOW_PYORC_VERSION")
    assert cli.main(["build-pyorc", str(tmp_path)]) == 0
    assert built == ["0.8.0", "0.9.0"]
