"""Every shim, imported and exercised under Python 3.8 with only the standard library."""

from __future__ import annotations

import subprocess

import pytest
from conftest import HELPERS, REPO

from h2o_dai_py_scoring_mlflow.runtime.interpreters import Interpreter

CHECKS = [
    "stdlib_only",
    "idempotent",
    "missing_backport_is_reported",
    "stream_fileno",
    "spark_leakage",
    "read_only_workdir",
    "psutil_absent",
]


@pytest.mark.parametrize("check", CHECKS)
def test_shim_under_bare_python38(python38: Interpreter, check: str) -> None:
    done = subprocess.run(
        [
            str(python38.path),
            "-I",
            "-S",
            str(HELPERS / "shims_checks.py"),
            str(REPO / "shims"),
            check,
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "ok"


def test_diag_mode_reports_changes_on_stderr(python38: Interpreter) -> None:
    done = subprocess.run(
        [
            str(python38.path),
            "-I",
            "-S",
            "-c",
            "import os, sys; sys.path.insert(0, sys.argv[1]); import h2o_dai_shims; "
            "os.chdir('/proc'); h2o_dai_shims.ensure_writable_workdir()",
            str(REPO / "shims"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"H2O_DAI_MLFLOW_DIAG": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert "[h2o_dai_shims] working directory /proc is read-only" in done.stderr
