"""Models logged before the package was grouped into wings (0.1.0's flat layout) still restore,
predict and batch-score.

The fixture ``tests/fixtures/models/flat-layout-binary/`` is every file such a model has except
its ``artifacts/scoring-pipeline/`` (the export's wheels, rebuilt here from the same sample: the
synthetic export is deterministic for a kind and row count). A model carries its own wrapper and
shims in ``code/``, so nothing in it names a module of this package; what must keep working is
MLflow 2.17 loading it from its own files, and this package reading its MLmodel and artifacts.
"""

from __future__ import annotations

import json
import pickle
import pickletools
import shutil
from pathlib import Path
from typing import Callable, List

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO
from helpers.cli import cli_env, dai_mlflow

from h2o_dai_py_scoring_mlflow.checks.rehearsal import predict_with_mlflow
from h2o_dai_py_scoring_mlflow.model.environment import model_environment
from h2o_dai_py_scoring_mlflow.runtime.scorer import ScoringEnvironment, score_frame
from h2o_dai_py_scoring_mlflow.samples import SampleResult
from h2o_dai_py_scoring_mlflow.samples.datasets import make_dataset
from h2o_dai_py_scoring_mlflow.settings import load_settings

pytestmark = pytest.mark.slow

FIXTURE = REPO / "tests" / "fixtures" / "models" / "flat-layout-binary"


@pytest.fixture(scope="module")
def old_model(
    tmp_path_factory: pytest.TempPathFactory, sample_factory: Callable[[str], SampleResult]
) -> Path:
    """The fixture completed with the export it was logged from."""
    model = tmp_path_factory.mktemp("flat-layout") / "model"
    shutil.copytree(FIXTURE, model, ignore=shutil.ignore_patterns("FIXTURE.md"))
    shutil.copytree(
        sample_factory("binary").pipeline,
        model / "artifacts" / "scoring-pipeline",
        ignore=shutil.ignore_patterns("tmp", "__pycache__"),
    )
    return model


def _pickled_globals(path: Path) -> List[str]:
    """The module.name pairs a pickle refers to, read without unpickling it."""
    names, strings = [], []
    for opcode, arg, _ in pickletools.genops(path.read_bytes()):
        if opcode.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(str(arg))
        elif opcode.name == "STACK_GLOBAL":
            names.append(".".join(strings[-2:]))
        elif opcode.name == "GLOBAL":
            names.append(str(arg).replace(" ", "."))
    return names


def test_the_fixture_is_a_flat_layout_model(old_model: Path) -> None:
    """It was logged by 0.1.0 before the wings: its wrapper is pickled by its in-model name."""
    mlmodel = yaml.safe_load((old_model / "MLmodel").read_text())
    flavor = mlmodel["flavors"]["python_function"]
    assert flavor["config"]["tool_version"] == "0.1.0"
    assert sorted(p.name for p in (old_model / "code").iterdir()) == [
        "h2o_dai_pyfunc_model.py",
        "h2o_dai_shims.py",
    ]
    assert _pickled_globals(old_model / "python_model.pkl") == [
        "h2o_dai_pyfunc_model.DaiScoringPipelineModel"
    ]
    wheels = [line for line in (old_model / "requirements.txt").read_text().splitlines()]
    for line in wheels:
        if line.startswith("artifacts/scoring-pipeline/"):
            assert (old_model / line.split(" ", 1)[0]).is_file(), line
    with pytest.raises(ModuleNotFoundError, match="h2o_dai_pyfunc_model"):
        pickle.loads((old_model / "python_model.pkl").read_bytes())


def _frame() -> pd.DataFrame:
    return make_dataset("binary", rows=200, seed=99).train.head(25).iloc[:, :-1]


def test_mlflow_2_17_restores_and_predicts_it_from_its_own_files(
    old_model: Path,
    sample_factory: Callable[[str], SampleResult],
    scoring_env_factory: Callable[[str], ScoringEnvironment],
    env_root: Path,
) -> None:
    """Its code/ carries the shims of its day, without the native-library preload: where its
    environment keeps OpenBLAS in lib/ (as conda does, and as the synthetic export's h2oaicore
    wheel does), the loader must be pointed there, as such models always needed (README,
    Troubleshooting). Logged again, a model preloads it itself."""
    sample = sample_factory("binary")
    split = json.loads(_frame().to_json(orient="split", index=False))
    env = model_environment(old_model, load_settings({"MLFLOW_ENV_ROOT": str(env_root)}))
    license_env = {"DRIVERLESS_AI_LICENSE_FILE": str(sample.license_file)}
    extra = {**license_env, "LD_LIBRARY_PATH": str(env.path / "lib")}
    predicted = predict_with_mlflow(env, old_model, split, extra_env=extra)
    scoring = scoring_env_factory("binary").environment
    direct = score_frame(scoring, sample.pipeline, split, extra_env=license_env)
    got = np.array([[row[c] for c in direct.columns] for row in predicted])
    assert np.array_equal(got, np.array(direct.rows))


def test_score_reads_it_as_a_model_uri(
    old_model: Path,
    sample_factory: Callable[[str], SampleResult],
    scoring_env_factory: Callable[[str], ScoringEnvironment],
    env_root: Path,
    tmp_path: Path,
) -> None:
    sample = sample_factory("binary")
    frame = _frame().assign(row_id=range(25))
    frame.to_csv(tmp_path / "rows.csv", index=False)
    env = cli_env(env_root, DRIVERLESS_AI_LICENSE_FILE=str(sample.license_file))
    args = ["score", "--model-uri", str(old_model), "--input-path", "rows.csv"]
    args += ["--output-path", "out.csv", "--keep-columns", "row_id"]
    done = dai_mlflow(args, tmp_path, env)
    assert done.returncode == 0, done.stderr
    scored = pd.read_csv(tmp_path / "out.csv")
    split = json.loads(_frame().to_json(orient="split", index=False))
    direct = score_frame(
        scoring_env_factory("binary").environment,
        sample.pipeline,
        split,
        extra_env={"DRIVERLESS_AI_LICENSE_FILE": str(sample.license_file)},
    )
    assert list(scored.columns) == ["row_id", *direct.columns]
    assert np.array_equal(scored[direct.columns].to_numpy(), np.array(direct.rows))
