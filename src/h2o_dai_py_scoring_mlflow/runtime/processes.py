"""The one place that starts subprocesses and decides what environment they see.

Rules: argv lists only (never a shell), interpreters are called as ``<env>/bin/python -m ...``
(never "activated"), and every child gets an explicit, scrubbed environment built here, so the
parent's ``os.environ`` is never edited to steer a child.
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Deque, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ..errors import CommandError

# Variables that leak a foreign Python or Spark into a child (Databricks sets all of these).
_SCRUBBED = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONEXECUTABLE",
    "__PYVENV_LAUNCHER__",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "SPARK_HOME",
)
_SCRUBBED_PREFIXES = ("PYSPARK_",)
_TAIL_LINES = 40

Arg = Union[str, Path]


def child_environment(
    extra: Optional[Mapping[str, str]] = None,
    *,
    base: Optional[Mapping[str, str]] = None,
    drop: Sequence[str] = (),
) -> Dict[str, str]:
    """A copy of ``base`` (default: this process's environment) fit for a child process.

    Foreign-Python and Spark variables are removed, ``drop`` names are removed too, and
    ``extra`` is laid on top.
    """
    source = os.environ if base is None else base
    env = {
        key: value
        for key, value in source.items()
        if key not in _SCRUBBED and not key.startswith(_SCRUBBED_PREFIXES) and key not in drop
    }
    env.update(extra or {})
    return env


def run(
    argv: Sequence[Arg],
    *,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[Path] = None,
    timeout: Optional[float] = None,
    echo: bool = False,
    check: bool = True,
    echo_skip: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to completion and return its output.

    Without ``echo`` stdout and stderr are captured apart; with ``echo`` they are merged into
    ``stdout`` and also streamed to our stderr as they arrive (progress for long builds), except
    lines starting with one of ``echo_skip``.
    A non-zero exit raises :class:`CommandError` with the tail of the output, unless ``check``
    is false.
    """
    args = [str(a) for a in argv]
    child_env = dict(env) if env is not None else child_environment()
    if not echo:
        try:
            done = subprocess.run(
                args,
                env=child_env,
                cwd=cwd,
                timeout=timeout,
                capture_output=True,
                stdin=subprocess.DEVNULL,
                text=True,
                check=False,
            )
        except FileNotFoundError as exc:
            raise CommandError(args, 127, str(exc)) from exc
        if check and done.returncode != 0:
            output = (done.stdout + "\n" + done.stderr).splitlines()
            raise CommandError(args, done.returncode, _tail(output))
        return done
    return _run_echoing(
        args, env=child_env, cwd=cwd, timeout=timeout, check=check, skip=tuple(echo_skip)
    )


def _run_echoing(
    args: List[str],
    *,
    env: Mapping[str, str],
    cwd: Optional[Path],
    timeout: Optional[float],
    check: bool,
    skip: Tuple[str, ...],
) -> subprocess.CompletedProcess[str]:
    lines: List[str] = []
    try:
        proc = subprocess.Popen(
            args,
            env=dict(env),
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
    except FileNotFoundError as exc:
        raise CommandError(args, 127, str(exc)) from exc
    assert proc.stdout is not None
    with proc:
        for line in proc.stdout:
            lines.append(line)
            if not line.startswith(skip):
                sys.stderr.write(line)
        returncode = proc.wait(timeout=timeout)
    output = "".join(lines)
    if check and returncode != 0:
        raise CommandError(args, returncode, _tail(output.splitlines()))
    return subprocess.CompletedProcess(args, returncode, output, None)


def run_attached(
    argv: Sequence[Arg],
    *,
    env: Mapping[str, str],
    cwd: Optional[Path] = None,
) -> int:
    """Run ``argv`` in the foreground, its output going straight to ours; return its exit code.

    If we are interrupted, the child gets SIGTERM and is waited for. A child that must not
    outlive us even when we are killed asks the kernel for a parent-death signal first thing
    (as :mod:`..batch.inside` does).
    """
    args = [str(a) for a in argv]
    try:
        proc = subprocess.Popen(args, env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL)
    except FileNotFoundError as exc:
        raise CommandError(args, 127, str(exc)) from exc
    try:
        return proc.wait()
    except BaseException:
        proc.terminate()
        proc.wait()
        raise


def start(
    argv: Sequence[Arg],
    *,
    log: Path,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[Path] = None,
) -> subprocess.Popen[bytes]:
    """Start a background process in its own session, its output going to ``log``."""
    with log.open("wb") as sink:
        return subprocess.Popen(
            [str(a) for a in argv],
            cwd=cwd,
            env=dict(env) if env is not None else child_environment(),
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[bytes], *, grace: float = 15.0) -> None:
    """Stop a process started by :func:`start` and everything it started (SIGTERM, then KILL)."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)


def _tail(lines: Sequence[str]) -> str:
    kept: Deque[str] = collections.deque(lines, maxlen=_TAIL_LINES)
    return "\n".join(kept)


def python_output(python: Path, code: str, *, timeout: float = 30.0) -> str:
    """Run ``python -c code`` isolated from site customisation (``-I``) and return stdout."""
    done = run([python, "-I", "-c", code], timeout=timeout)
    return done.stdout.strip()


def find_uv(
    explicit: Optional[Path], environ: Optional[Mapping[str, str]] = None
) -> Optional[Path]:
    """The uv executable: ``explicit`` if given, else ``uv`` on PATH, else the uv package's."""
    if explicit is not None:
        return explicit if explicit.is_file() else None
    env = os.environ if environ is None else environ
    on_path = shutil.which("uv", path=env.get("PATH", ""))
    if on_path:
        return Path(on_path)
    try:
        from uv import find_uv_bin  # noqa: PLC0415  # optional: only the caller side has it
    except ImportError:
        return None
    try:
        return Path(find_uv_bin())
    except FileNotFoundError:
        return None
