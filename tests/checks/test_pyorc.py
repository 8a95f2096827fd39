"""`dai-mlflow build-pyorc` puts a CPython 3.8 pyorc wheel into an export, once, so that the
logged model ships it instead of leaving pyorc out."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Callable, Dict

import pytest
from helpers.cli import cli_env, dai_mlflow

from h2o_dai_py_scoring_mlflow.samples import SampleResult, build_sample

pytestmark = pytest.mark.slow

WHEEL = "pyorc-0.9.0-cp38-cp38-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"


@pytest.fixture
def env(env_root: Path, sample_factory: Callable[[str], SampleResult]) -> Dict[str, str]:
    return cli_env(env_root, DRIVERLESS_AI_LICENSE_FILE=str(sample_factory("binary").license_file))


def test_a_folder_export_gets_the_wheel_once_and_the_model_ships_it(
    sample_factory: Callable[[str], SampleResult], env: Dict[str, str], tmp_path: Path
) -> None:
    export = tmp_path / "scoring-pipeline"
    shutil.copytree(sample_factory("binary").pipeline, export)
    assert "pyorc==0.9.0" in (export / "requirements.txt").read_text()

    done = dai_mlflow(["build-pyorc", str(export)], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert f"{WHEEL} (added; from package index)" in done.stdout
    assert (export / WHEEL).is_file()
    requirements = (export / "requirements.txt").read_text()
    assert "pyorc==" not in requirements and WHEEL in requirements.splitlines()

    again = dai_mlflow(["build-pyorc", str(export)], tmp_path, env)
    assert again.returncode == 0, again.stderr
    assert "(already there; from present)" in again.stdout
    assert (export / "requirements.txt").read_text() == requirements

    logged = dai_mlflow(["log-model", str(export), "--json"], tmp_path, env)
    assert logged.returncode == 0, logged.stderr
    model_requirements = next(tmp_path.glob("mlruns/*/*/artifacts/*/requirements.txt")).read_text()
    assert f"artifacts/scoring-pipeline/{WHEEL}" in model_requirements
    assert "excluded: pyorc" not in model_requirements


def test_a_zip_export_is_rewritten_with_the_wheel_in_its_folder(
    env: Dict[str, str], tmp_path: Path
) -> None:
    sample = build_sample("binary", tmp_path / "zipped", rows=600, zip_output=True)
    done = dai_mlflow(["build-pyorc", str(sample.pipeline)], tmp_path, env)
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(sample.pipeline) as archive:
        names = archive.namelist()
        requirements = archive.read("scoring-pipeline/requirements.txt").decode()
    assert f"scoring-pipeline/{WHEEL}" in names
    assert all(name.startswith("scoring-pipeline/") for name in names)
    assert WHEEL in requirements.splitlines() and "pyorc==" not in requirements
    assert not list(sample.pipeline.parent.glob(".*partial"))
