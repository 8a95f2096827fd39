"""Interpreter resolution follows DESIGN §3 in order and explains itself."""

from __future__ import annotations

import http.server
import logging
import os
import threading
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from h2o_dai_py_scoring_mlflow.errors import InterpreterNotFoundError, SettingError
from h2o_dai_py_scoring_mlflow.runtime.interpreters import (
    Interpreter,
    PythonVersion,
    resolve_interpreter,
)
from h2o_dai_py_scoring_mlflow.settings import load_settings


def _link(target: Path, link: Path) -> Path:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    return link


def _environ(tmp_path: Path, **extra: str) -> Dict[str, str]:
    """A world with nothing in it: empty PATH, empty pyenv root, empty uv install dir."""
    base = {
        "PATH": "",
        "HOME": str(tmp_path / "home"),
        "PYENV_ROOT": str(tmp_path / "pyenv"),
        "UV_PYTHON_INSTALL_DIR": str(tmp_path / "uv-python"),
    }
    base.update(extra)
    return base


def _settings(tmp_path: Path, **values: str) -> object:
    mapping = {
        "MLFLOW_ENV_ROOT": str(tmp_path / "envs"),
        "H2O_DAI_MLFLOW_PYTHON_DOWNLOADS": "never",
    }
    mapping.update(values)
    return load_settings(mapping)


def test_version_parsing_and_matching() -> None:
    assert PythonVersion.parse("3.8.18").satisfies(PythonVersion.parse("3.8"))
    assert not PythonVersion.parse("3.8.18").satisfies(PythonVersion.parse("3.8.12"))
    assert PythonVersion.parse("3.8.18").same_minor(PythonVersion.parse("3.8.12"))
    assert str(PythonVersion.parse("3.8.12")) == "3.8.12"


def test_exact_pin_found_in_pyenv_versions(python38: Interpreter, tmp_path: Path) -> None:
    version = str(python38.version)
    _link(python38.path, tmp_path / "pyenv" / "versions" / version / "bin" / "python3.8")
    result = resolve_interpreter(_settings(tmp_path), pin=version, environ=_environ(tmp_path))
    assert result.interpreter.source == "pyenv"
    assert str(result.interpreter.version) == version
    assert result.reason.startswith(f"exact match for {version}")
    assert result.warning is None


def test_exact_pin_prefers_uv_managed_install(python38: Interpreter, tmp_path: Path) -> None:
    version = str(python38.version)
    managed = tmp_path / "uv-python" / f"cpython-{version}-linux-x86_64-gnu" / "bin" / "python3.8"
    _link(python38.path, managed)
    _link(python38.path, tmp_path / "pyenv" / "versions" / version / "bin" / "python3.8")
    result = resolve_interpreter(_settings(tmp_path), pin=version, environ=_environ(tmp_path))
    assert result.interpreter.source == "uv-managed"
    assert result.interpreter.path == managed


def test_exact_pin_found_on_path(python38: Interpreter, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    _link(python38.path, bin_dir / "python3.8")
    result = resolve_interpreter(
        _settings(tmp_path),
        pin=str(python38.version),
        environ=_environ(tmp_path, PATH=str(bin_dir)),
    )
    assert result.interpreter.source == "PATH"
    assert result.interpreter.path == bin_dir / "python3.8"


def test_same_minor_fallback_warns_once_naming_both_versions(
    python38: Interpreter, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _link(
        python38.path, tmp_path / "pyenv" / "versions" / str(python38.version) / "bin" / "python3.8"
    )
    with caplog.at_level(logging.WARNING):
        result = resolve_interpreter(_settings(tmp_path), pin="3.8.1", environ=_environ(tmp_path))
    assert result.interpreter.version == python38.version
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "3.8.1 (the pin)" in warnings[0] and f"Python {python38.version}" in warnings[0]
    assert result.warning == warnings[0]


def test_strict_mode_refuses_fallback_and_lists_searched_places(
    python38: Interpreter, tmp_path: Path
) -> None:
    _link(
        python38.path, tmp_path / "pyenv" / "versions" / str(python38.version) / "bin" / "python3.8"
    )
    settings = _settings(tmp_path, H2O_DAI_MLFLOW_PYTHON_STRICT="1")
    with pytest.raises(InterpreterNotFoundError) as caught:
        resolve_interpreter(settings, pin="3.8.1", environ=_environ(tmp_path))
    message = caught.value.message
    assert "strict mode" in message
    assert str(tmp_path / "pyenv" / "versions") in message
    assert str(tmp_path / "uv-python") in message
    assert "PATH" in message
    assert "H2O_DAI_MLFLOW_PYTHON_DOWNLOADS=never" in message
    assert "H2O_DAI_MLFLOW_PYTHON" in (caught.value.tip or "")


def test_explicit_interpreter_wins(python38: Interpreter, tmp_path: Path) -> None:
    settings = _settings(tmp_path, H2O_DAI_MLFLOW_PYTHON=str(python38.path))
    result = resolve_interpreter(settings, pin="3.8.1", environ=_environ(tmp_path))
    assert result.interpreter.path == python38.path
    assert result.interpreter.source == "H2O_DAI_MLFLOW_PYTHON"


def test_explicit_interpreter_of_another_minor_is_rejected(tmp_path: Path) -> None:
    import sys

    settings = _settings(tmp_path, H2O_DAI_MLFLOW_PYTHON=sys.executable)
    with pytest.raises(SettingError, match=r"a Python 3\.8"):
        resolve_interpreter(settings, pin="3.8.12", environ=_environ(tmp_path))


def test_explicit_interpreter_that_does_not_run_is_rejected(tmp_path: Path) -> None:
    settings = _settings(tmp_path, H2O_DAI_MLFLOW_PYTHON=str(tmp_path / "no-python"))
    with pytest.raises(SettingError, match="working Python executable"):
        resolve_interpreter(settings, pin="3.8.12", environ=_environ(tmp_path))


def test_no_python38_anywhere_gives_the_typed_error(tmp_path: Path) -> None:
    with pytest.raises(InterpreterNotFoundError) as caught:
        resolve_interpreter(_settings(tmp_path), pin="3.8.12", environ=_environ(tmp_path))
    error = caught.value
    assert error.message.startswith("No Python 3.8.12 interpreter was found. Searched:")
    assert len(error.searched) == 4
    assert "uv python install" in (error.tip or "") and "pyenv install" in (error.tip or "")


class _NotFound(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # http.server's naming
        self.send_error(404)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture()
def empty_python_mirror() -> Iterator[str]:
    """A loopback HTTP server that has no Python builds: downloads fail for real, quickly."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_failed_download_is_tried_with_uv_then_remembered(
    tmp_path: Path, empty_python_mirror: str
) -> None:
    environ = _environ(
        tmp_path,
        UV_PYTHON_INSTALL_MIRROR=empty_python_mirror,
        PATH=os.environ.get("PATH", ""),
        UV_CACHE_DIR=str(tmp_path / "uv-cache"),
    )
    environ["PATH"] = os.pathsep.join(
        p for p in environ["PATH"].split(os.pathsep) if "pyenv" not in p and p != "/usr/bin"
    )
    settings = _settings(tmp_path, H2O_DAI_MLFLOW_PYTHON_DOWNLOADS="auto")
    with pytest.raises(InterpreterNotFoundError) as first:
        resolve_interpreter(settings, pin="3.8.12", environ=environ)
    assert any(s.startswith("uv python install 3.8.12: failed") for s in first.value.searched)
    with pytest.raises(InterpreterNotFoundError) as second:
        resolve_interpreter(settings, pin="3.8.12", environ=environ)
    assert any("retried after a day" in s for s in second.value.searched)


@pytest.mark.slow
def test_a_hanging_python_on_path_is_skipped_and_stopped_with_its_children(
    python38: Interpreter, tmp_path: Path
) -> None:
    """A `python3` that never answers (it waits, with a child of its own) costs one probe time
    limit: it is stopped with its child, and the lookup goes on to find the real 3.8."""
    marker = f"dai-hanging-python-{os.getpid()}"
    hanging = tmp_path / "hang" / "python3"
    hanging.parent.mkdir()
    wait = f"sh -c 'sleep 600; true' {marker}"
    hanging.write_text(f"#!/bin/sh\n{wait} &\nexec {wait}\n")
    hanging.chmod(0o755)
    good = tmp_path / "good"
    _link(python38.path, good / "python3.8")
    result = resolve_interpreter(
        _settings(tmp_path),
        pin=str(python38.version),
        environ=_environ(tmp_path, PATH=f"{hanging.parent}:{good}"),
    )
    assert result.interpreter.path == good / "python3.8"
    assert f"{hanging} (not runnable)" in " ".join(result.searched)
    assert _commands_with(marker) == []


def _commands_with(text: str) -> List[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in command:
            found.append(command)
    return found
