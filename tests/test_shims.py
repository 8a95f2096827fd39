"""Every shim, imported and exercised under Python 3.8 with only the standard library."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import HELPERS, REPO

from h2o_dai_py_scoring_mlflow.runtime.interpreters import Interpreter

STUB = REPO / "src" / "h2o_dai_py_scoring_mlflow" / "samples" / "native" / "libopenblas.so.0"
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


NATIVE = (
    "import ctypes, sys; sys.path.insert(0, sys.argv[1]); import h2o_dai_shims\n"
    "if sys.argv[2] == 'preload':\n"
    "    print(h2o_dai_shims.preload_native_libraries())\n"
    "try:\n"
    "    blas = ctypes.CDLL('libopenblas.so.0')\n"
    "except OSError as exc:\n"
    "    print('missing:', exc)\n"
    "else:\n"
    "    print('threads:', blas.openblas_get_num_threads())\n"
)


@pytest.mark.parametrize("preload", [False, True])
def test_openblas_in_a_conda_prefix_lib_is_found_only_with_the_preload(
    python38: Interpreter, tmp_path: Path, preload: bool
) -> None:
    """A real libopenblas.so.0 in $CONDA_PREFIX/lib, loaded by soname as DAI's compiled code does:
    the loader does not look there, the shim's preload makes it found (and says so with DIAG)."""
    prefix_lib = tmp_path / "conda-env" / "lib"
    prefix_lib.mkdir(parents=True)
    shutil.copy(STUB, prefix_lib / "libopenblas.so.0")
    done = subprocess.run(
        [str(python38.path), "-I", "-S", "-c", NATIVE, str(REPO / "shims"),
         "preload" if preload else "none"],
        capture_output=True, text=True, check=False,
        env={"CONDA_PREFIX": str(tmp_path / "conda-env"), "H2O_DAI_MLFLOW_DIAG": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    if preload:
        assert last == "threads: 1"
        assert f"native OpenBLAS: loaded {prefix_lib / 'libopenblas.so.0'}" in done.stderr
        assert "native libmagic: none of libmagic.so.1, libmagic.so in" in done.stderr
    else:
        assert last.startswith("missing: libopenblas.so.0: cannot open shared object file")
