"""Environments are cached by definition, built once under a lock, and never half-visible."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest
from conftest import HELPERS

from h2o_dai_py_scoring_mlflow.errors import EnvironmentBuildError
from h2o_dai_py_scoring_mlflow.runtime import processes
from h2o_dai_py_scoring_mlflow.runtime.environments import (
    EnvironmentSpec,
    ensure_environment,
    find_environment,
    read_marker,
)
from h2o_dai_py_scoring_mlflow.runtime.interpreters import Interpreter
from h2o_dai_py_scoring_mlflow.settings import load_settings

pytestmark = pytest.mark.slow

SMALL = ("tabulate==0.9.0",)


def _settings(root: Path, **extra: str):  # type: ignore[no-untyped-def]
    return load_settings({"MLFLOW_ENV_ROOT": str(root), **extra})


def test_second_call_reuses_the_environment(python38: Interpreter, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    spec = EnvironmentSpec(python38, SMALL, label="reuse")
    first = ensure_environment(spec, settings)
    started = time.monotonic()
    second = ensure_environment(spec, settings)
    assert first.created and not second.created
    assert second.path == first.path
    assert time.monotonic() - started < 1.0
    out = processes.run([second.python, "-c", "import tabulate, sys; print(sys.version_info[:2])"])
    assert out.stdout.strip() == "(3, 8)"
    marker = read_marker(second)
    assert marker["python"] == str(python38.version) and marker["builder"] == "uv"


def test_key_changes_with_dependencies_and_interpreter(python38: Interpreter) -> None:
    base = EnvironmentSpec(python38, SMALL)
    assert base.key() == EnvironmentSpec(python38, SMALL).key()
    assert base.key() != EnvironmentSpec(python38, ("tabulate==0.8.10",)).key()
    other = Interpreter(python38.path, type(python38.version)(3, 8, 1), "test")
    assert base.key() != EnvironmentSpec(other, SMALL).key()


def test_local_wheel_contents_are_part_of_the_key(python38: Interpreter, tmp_path: Path) -> None:
    wheel = tmp_path / "demo-1.0-py3-none-any.whl"
    wheel.write_bytes(b"one")
    before = EnvironmentSpec(python38, (str(wheel),)).key()
    wheel.write_bytes(b"two")
    assert EnvironmentSpec(python38, (str(wheel),)).key() != before
    moved = tmp_path / "elsewhere" / wheel.name
    moved.parent.mkdir()
    moved.write_bytes(b"two")
    assert (
        EnvironmentSpec(python38, (str(moved),)).key()
        == EnvironmentSpec(python38, (str(wheel),)).key()
    )


def _builder(python38: Interpreter, root: Path, *requirements: str) -> subprocess.Popen[str]:
    env = processes.child_environment({"MLFLOW_ENV_ROOT": str(root)})
    argv = [
        sys.executable,
        str(HELPERS / "build_env.py"),
        str(python38.path),
        str(python38.version),
    ]
    return subprocess.Popen(
        [*argv, *requirements],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def test_two_concurrent_processes_build_once(python38: Interpreter, tmp_path: Path) -> None:
    procs = [_builder(python38, tmp_path, "tabulate==0.9.0", "six==1.16.0") for _ in range(2)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    assert results[0]["path"] == results[1]["path"]
    assert sorted(r["created"] for r in results) == [False, True]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []


def _slow_sdist(folder: Path, flag: Path) -> Path:
    """A source package whose build waits while ``flag`` exists: a build we can kill mid-way."""
    project = folder / "slowpkg"
    (project / "slowpkg").mkdir(parents=True)
    (project / "slowpkg" / "__init__.py").write_text("VALUE = 1\n")
    (project / "setup.py").write_text(
        "import os, time\n"
        "from setuptools import setup\n"
        f"deadline = time.time() + 120\n"
        f"while os.path.exists({str(flag)!r}) and time.time() < deadline:\n"
        "    time.sleep(0.2)\n"
        "setup(name='slowpkg', version='1.0', packages=['slowpkg'])\n"
    )
    return project


def _wait_for(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_build_killed_half_way_leaves_nothing_usable(python38: Interpreter, tmp_path: Path) -> None:
    flag = tmp_path / "hold-the-build"
    flag.write_text("")
    project = _slow_sdist(tmp_path, flag)
    root = tmp_path / "envs"
    requirement = f"slowpkg @ file://{project}"
    proc = _builder(python38, root, requirement)

    def staging() -> List[Path]:
        return [p for p in root.glob(".tmp-*")] if root.exists() else []

    assert _wait_for(lambda: any((p / "bin" / "python").exists() for p in staging()), 60)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    interpreter_spec = EnvironmentSpec(python38, (requirement,), label="test")
    settings = _settings(root)
    assert find_environment(interpreter_spec, settings) is None
    assert not (root / interpreter_spec.folder_name()).exists()

    flag.unlink()
    env = ensure_environment(interpreter_spec, settings)
    assert env.created
    assert (
        processes.run([env.python, "-c", "import slowpkg; print(slowpkg.VALUE)"]).stdout.strip()
        == "1"
    )
    assert staging() == []


def test_failed_build_leaves_nothing_behind(python38: Interpreter, tmp_path: Path) -> None:
    spec = EnvironmentSpec(
        python38, ("this-package-does-not-exist-dai-mlflow==1.0",), label="broken"
    )
    with pytest.raises(EnvironmentBuildError) as caught:
        ensure_environment(spec, _settings(tmp_path))
    assert "this-package-does-not-exist-dai-mlflow" in caught.value.message
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != ".locks"]
    assert leftovers == []


def test_pip_fallback_builds_a_working_relocated_environment(
    python38: Interpreter, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, H2O_DAI_MLFLOW_ENV_BUILDER="pip")
    env = ensure_environment(EnvironmentSpec(python38, SMALL, label="pip"), settings)
    assert read_marker(env)["builder"] == "venv+pip"
    out = processes.run([env.path / "bin" / "pip", "--version"]).stdout
    assert str(env.path) in out


def test_environment_carries_this_package_when_asked(python38: Interpreter, tmp_path: Path) -> None:
    env = ensure_environment(
        EnvironmentSpec(python38, SMALL, include_tool=True, label="tool"), _settings(tmp_path)
    )
    code = "import h2o_dai_py_scoring_mlflow.export.reading as p; print(p.__file__)"
    assert str(env.path) in processes.run([env.python, "-c", code]).stdout


def _commands_mentioning(text: str) -> List[str]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in command and state != "Z":
            found.append(command)
    return found


def test_killing_only_the_builder_stops_its_installer_and_the_next_build_sweeps_it(
    python38: Interpreter, tmp_path: Path
) -> None:
    """`kill -9` of the builder process alone (not its group): uv, its child, is told by the
    kernel and stops writing; the next build of any environment removes the abandoned staging."""
    flag = tmp_path / "hold-the-build"
    flag.write_text("")
    project = _slow_sdist(tmp_path, flag)
    root = tmp_path / "envs"
    proc = _builder(python38, root, f"slowpkg @ file://{project}")

    def staging() -> List[Path]:
        return [p for p in root.glob(".tmp-*")] if root.exists() else []

    def installing() -> bool:
        return any(
            "pip install" in command and str(folder) in command
            for folder in staging()
            for command in _commands_mentioning(str(folder))
        )

    try:
        assert _wait_for(installing, 60)
        time.sleep(1.0)
        folder = staging()[0]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert _wait_for(lambda: not _commands_mentioning(str(folder)), 15)
        assert folder.exists()
        env = ensure_environment(EnvironmentSpec(python38, SMALL, label="next"), _settings(root))
        assert env.created and staging() == []
    finally:
        flag.unlink()
