"""The README's main job works, from a checkout and from the built wheel alone."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from conftest import InstalledWheel

pytestmark = pytest.mark.slow


def _run(argv, **kwargs) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, check=False, **kwargs
    )


def _prediction_rows(stdout: str) -> list:
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("predictions for"))
    end = next(i for i, line in enumerate(lines) if line.startswith("batch scored:"))
    return [[float(v) for v in line.split()] for line in lines[start + 2 : end]]


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_demo_scores_example_rows_inside_python38(tmp_path: Path, kind: str) -> None:
    out = tmp_path / "demo"
    done = _run(
        [
            sys.executable,
            "-m",
            "h2o_dai_py_scoring_mlflow.cli",
            "demo",
            "--kind",
            kind,
            "--out",
            out,
        ]
    )
    assert done.returncode == 0, done.stderr
    assert "same as scorer:   yes" in done.stdout
    assert f"registered:       dai_demo_{kind} version 1" in done.stdout
    assert "python3.8 (MLflow 2.17, clean env from the model's files)" in done.stdout
    rows = _prediction_rows(done.stdout)
    assert len(rows) == 12
    assert all(abs(sum(row) - 1.0) < 1e-5 for row in rows)
    assert "4/5 Predicting example.py's rows" in done.stderr
    # The same-minor fallback warning (3.8.12 pinned, 3.8.x found) is said once per command.
    assert done.stderr.count("(the pin) was not found") <= 1
    assert "batch scored:     20,000 rows" in done.stdout
    assert done.stdout.count("same as scorer:   yes") == 2
    assert len(pd.read_csv(out / "batch-predictions.csv")) == 20_000
    assert (out / "mlflow.db").is_file()
    rerun = _run(
        [
            sys.executable,
            "-m",
            "h2o_dai_py_scoring_mlflow.cli",
            "demo",
            "--kind",
            kind,
            "--out",
            out,
        ]
    )
    assert rerun.returncode == 0, rerun.stderr
    assert _prediction_rows(rerun.stdout) == rows
    assert "Building" not in rerun.stderr


def test_demo_refuses_a_non_empty_folder_it_does_not_own(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    done = _run([sys.executable, "-m", "h2o_dai_py_scoring_mlflow.cli", "demo", "--out", tmp_path])
    assert done.returncode == 1
    assert "already exists and is not empty" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_wheel_carries_the_project_and_works_after_a_plain_install(
    installed_wheel: InstalledWheel, tmp_path: Path
) -> None:
    with zipfile.ZipFile(installed_wheel.wheel) as archive:
        names = set(archive.namelist())
    for part in (
        "MLproject",
        "python_env.yaml",
        "shims/h2o_dai_shims.py",
        "entrypoints/score.py",
        "entrypoints/_bootstrap.py",
    ):
        assert f"h2o_dai_py_scoring_mlflow/_project/{part}" in names
    assert "h2o_dai_py_scoring_mlflow/bridge/store_server.py" in names

    venv = installed_wheel.venv
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    report = _run([venv / "bin" / "dai-mlflow", "env", "--json"], env=env, cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert "_project" in report.stdout and str(venv) in report.stdout
    where = _run([venv / "bin" / "dai-mlflow", "project-path"], env=env, cwd=tmp_path)
    assert Path(where.stdout.strip()).name == "_project"
    assert (Path(where.stdout.strip()) / "MLproject").is_file()
    demo = _run(
        [venv / "bin" / "dai-mlflow", "demo", "--out", tmp_path / "demo"], env=env, cwd=tmp_path
    )
    assert demo.returncode == 0, demo.stderr
    assert len(_prediction_rows(demo.stdout)) == 12
