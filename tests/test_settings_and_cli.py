"""Settings are declared once and parsed strictly; `dai-mlflow` reports errors in one line + TIP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Optional

import pytest
from conftest import REPO
from helpers.cli import dai_mlflow

from h2o_dai_py_scoring_mlflow.errors import ProjectSpecError, SettingError
from h2o_dai_py_scoring_mlflow.runtime.project import read_python_env
from h2o_dai_py_scoring_mlflow.settings import (
    ALL_SETTINGS,
    EnvBuilder,
    describe_settings,
    load_settings,
)


def cli(
    args: List[str], env: Optional[Dict[str, str]] = None, cwd: Optional[Path] = None
) -> subprocess.CompletedProcess[str]:
    return dai_mlflow(args, cwd, {**os.environ, **(env or {})})


def test_booleans_are_strict() -> None:
    assert load_settings({"H2O_DAI_MLFLOW_PYTHON_STRICT": "yes"}).python_strict is True
    with pytest.raises(SettingError, match="H2O_DAI_MLFLOW_PYTHON_STRICT='maybe' is not valid"):
        load_settings({"H2O_DAI_MLFLOW_PYTHON_STRICT": "maybe"})


def test_enums_name_their_choices() -> None:
    assert load_settings({"H2O_DAI_MLFLOW_ENV_BUILDER": "PIP"}).env_builder is EnvBuilder.PIP
    with pytest.raises(SettingError, match="one of auto/uv/pip"):
        load_settings({"H2O_DAI_MLFLOW_ENV_BUILDER": "conda"})


def test_env_root_defaults_to_mlflow_and_respects_mlflow_env_root(tmp_path: Path) -> None:
    assert load_settings({}).env_root == Path("~/.mlflow/envs").expanduser()
    assert load_settings({"MLFLOW_ENV_ROOT": str(tmp_path)}).env_root == tmp_path


def test_secrets_are_masked_and_sources_reported() -> None:
    described = {
        r.setting.name: r for r in describe_settings({"DRIVERLESS_AI_LICENSE_KEY": "s3cr3t"})
    }
    assert described["DRIVERLESS_AI_LICENSE_KEY"].shown() == "****** (set)"
    assert described["DRIVERLESS_AI_LICENSE_KEY"].source == "environment"
    assert described["H2O_DAI_MLFLOW_PYTHON_STRICT"].source == "default"


def test_env_command_prints_every_setting_interpreter_and_cache_root(tmp_path: Path) -> None:
    secret = "license-" + "x" * 40
    done = cli(["env"], {"DRIVERLESS_AI_LICENSE_KEY": secret, "MLFLOW_ENV_ROOT": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    for setting in ALL_SETTINGS:
        assert setting.name in done.stdout
    assert secret not in done.stdout + done.stderr
    assert "****** (set)" in done.stdout
    assert f"Env cache root:   {tmp_path}" in done.stdout
    assert "Interpreter:      " in done.stdout and "why:" in done.stdout


def test_env_json_names_the_interpreter_and_why(tmp_path: Path) -> None:
    done = cli(["env", "--json"], {"MLFLOW_ENV_ROOT": str(tmp_path)})
    report = json.loads(done.stdout)
    assert report["pin"] == "3.8.12"
    assert report["interpreter"]["version"].startswith("3.8.")
    assert report["interpreter"]["reason"]


def test_env_reports_when_no_interpreter_exists(tmp_path: Path) -> None:
    env = {
        "PATH": "",
        "PYENV_ROOT": str(tmp_path),
        "UV_PYTHON_INSTALL_DIR": str(tmp_path),
        "MLFLOW_ENV_ROOT": str(tmp_path),
    }
    done = cli(["env"], env)
    assert "Interpreter:      none found" in done.stdout
    assert "No Python 3.8.12 interpreter was found" in done.stdout


def test_bad_setting_is_one_error_line_and_a_tip() -> None:
    done = cli(["env"], {"H2O_DAI_MLFLOW_PYTHON_STRICT": "perhaps"})
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("ERROR: H2O_DAI_MLFLOW_PYTHON_STRICT='perhaps' is not valid")
    assert lines[-1].startswith("TIP: ")
    assert "Traceback" not in done.stderr


def test_sample_command_prints_both_paths(tmp_path: Path) -> None:
    done = cli(
        ["sample", "--kind", "regression", "--out", str(tmp_path / "s"), "--rows", "300", "--zip"]
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"scoring pipeline: {tmp_path / 's' / 'scorer.zip'}",
        f"demo license:     {tmp_path / 's' / 'license.sig'}",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "nope"], "ERROR: Unknown sample kind 'nope'."),
        (["--kind", "binary", "--rows", "5"], "ERROR: --rows 5 is out of range."),
    ],
)
def test_sample_command_bad_input(tmp_path: Path, args: List[str], message: str) -> None:
    done = cli(["sample", *args, "--out", str(tmp_path / "s")])
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == message
    assert done.stderr.splitlines()[-1].startswith("TIP: ")
    assert not (tmp_path / "s").exists()


def test_sample_command_refuses_non_empty_out(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "mine.csv").write_text("a\n1\n")
    done = cli(["sample", "--kind", "binary", "--out", str(tmp_path / "s")])
    assert done.returncode == 1
    assert "already exists and is not empty" in done.stderr
    assert "--force" in done.stderr
    assert [p.name for p in (tmp_path / "s").iterdir()] == ["mine.csv"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("python: [3.8\n", "not valid YAML at line"),
        ("- just a list\n", "expected a mapping"),
        ("python: 3.10\n", "`python` must be a quoted version string"),
        ('python: "3.8.12"\ndependencies: mlflow\n', "`dependencies` must be a list"),
        ('python: "three"\n', "`python` must be a quoted version string"),
    ],
)
def test_malformed_python_env_yaml_is_named(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "python_env.yaml"
    path.write_text(content)
    with pytest.raises(ProjectSpecError) as caught:
        read_python_env(path)
    assert caught.value.message.startswith(f"{path}: ")
    assert problem in caught.value.message


def test_malformed_python_env_yaml_in_a_checkout_fails_the_cli_cleanly(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    for name in ("MLproject", "entrypoints", "shims"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, checkout / name)
        else:
            checkout.mkdir(exist_ok=True)
            shutil.copy(source, checkout / name)
    shutil.copytree(REPO / "src", checkout / "src", ignore=shutil.ignore_patterns("__pycache__"))
    (checkout / "python_env.yaml").write_text("python: [3.8\n")
    done = cli(["env"], {"PYTHONPATH": str(checkout / "src")}, cwd=tmp_path)
    assert done.returncode == 1
    assert (
        done.stderr.splitlines()[0]
        == f"ERROR: {checkout / 'python_env.yaml'}: not valid YAML at line 2"
    )
    assert "Traceback" not in done.stderr
