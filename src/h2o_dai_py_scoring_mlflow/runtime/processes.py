"""The one place that starts subprocesses and decides what environment they see.

Rules: argv lists only (never a shell), interpreters are called as ``<env>/bin/python -m ...``
(never "activated"), and every child gets an explicit, scrubbed environment built here, so the
parent's ``os.environ`` is never edited to steer a child.

Lifetime: every child runs in its own process group and asks the kernel (Linux) for SIGTERM when
the process that started it dies, even by ``kill -9``. Interrupting us (Ctrl-C, or SIGTERM/SIGHUP
turned into the same exception by the CLI) and time limits stop the child's whole group: SIGTERM,
then SIGKILL after a grace period.
"""

from __future__ import annotations

import collections
import ctypes
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ..errors import CommandError, CommandTimeoutError

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
_GRACE_S = 10.0
_PR_SET_PDEATHSIG = 1

Arg = Union[str, Path]


def _load_prctl() -> Optional[Callable[..., int]]:
    if not sys.platform.startswith("linux"):
        return None
    prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    return prctl


_PRCTL = _load_prctl()


class StopSignal(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: handled like Ctrl-C, so every clean-up runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_stop(signum: int, frame: object) -> None:
    raise StopSignal(signum)


def interrupt_on_stop_signals() -> None:
    """Make SIGTERM and SIGHUP run the same clean-up as Ctrl-C (for the CLI and entry points)."""
    for stop_signal in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop_signal, _raise_stop)


def exit_code_for(interrupt: KeyboardInterrupt) -> int:
    """128 + the signal number, as shells report a process stopped by it."""
    signum = interrupt.signum if isinstance(interrupt, StopSignal) else int(signal.SIGINT)
    return 128 + signum


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


def _bound_to(parent: int) -> Callable[[], None]:
    """The pre-exec hook of every child: die (SIGTERM) with the process that started it."""

    def hook() -> None:
        if _PRCTL is not None:
            _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
        if os.getppid() != parent:  # it died between fork and prctl
            os.kill(os.getpid(), signal.SIGTERM)

    return hook


def _popen(args: List[str], **kwargs: object) -> subprocess.Popen[str]:
    try:
        return subprocess.Popen(  # type: ignore[call-overload, no-any-return]  # kwargs pass through
            args,
            start_new_session=True,
            preexec_fn=_bound_to(os.getpid()),  # noqa: PLW1509  # prctl must run in the child
            **kwargs,
        )
    except FileNotFoundError as exc:
        raise CommandError(args, 127, str(exc)) from exc


def stop_group(proc: subprocess.Popen[Any], *, grace: float = _GRACE_S) -> None:
    """Stop ``proc`` and everything in its process group: SIGTERM, then SIGKILL."""
    if proc.poll() is not None:
        _kill_group(proc.pid, signal.SIGKILL)  # stragglers it left behind
        return
    _kill_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid, signal.SIGKILL)
        proc.wait()
    _kill_group(proc.pid, signal.SIGKILL)


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return


class _Watch:
    """Stops ``proc`` when ``guard`` exits first (a server the child depends on)."""

    def __init__(self, proc: subprocess.Popen[str], guard: Optional[subprocess.Popen[str]]):
        self.tripped = False
        self._done = threading.Event()
        self._thread: Optional[threading.Thread] = None
        if guard is not None:
            self._thread = threading.Thread(target=self._run, args=(proc, guard), daemon=True)
            self._thread.start()

    def _run(self, proc: subprocess.Popen[str], guard: subprocess.Popen[str]) -> None:
        while not self._done.wait(0.25):
            if proc.poll() is not None:
                return
            if guard.poll() is not None:
                self.tripped = True
                _kill_group(proc.pid, signal.SIGTERM)
                return

    def close(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()


def run(
    argv: Sequence[Arg],
    *,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[Path] = None,
    timeout: Optional[float] = None,
    echo: bool = False,
    check: bool = True,
    echo_skip: Sequence[str] = (),
    guard: Optional[subprocess.Popen[str]] = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to completion and return its output.

    Without ``echo`` stdout and stderr are captured apart; with ``echo`` they are merged into
    ``stdout`` and also streamed to our stderr as they arrive (progress for long builds), except
    lines starting with one of ``echo_skip``. A non-zero exit raises :class:`CommandError` with
    the tail of the output, unless ``check`` is false; running past ``timeout`` seconds raises
    :class:`CommandTimeoutError`. If ``guard`` (a process the child depends on) exits first, the
    child is stopped and its exit code returned (the caller knows why).
    """
    args = [str(a) for a in argv]
    child_env = dict(env) if env is not None else child_environment()
    proc = _popen(
        args,
        env=child_env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if echo else subprocess.PIPE,
        text=True,
    )
    watch = _Watch(proc, guard)
    try:
        if echo:
            stdout, stderr = _echo(proc, args, tuple(echo_skip), timeout), ""
        else:
            stdout, stderr = _communicate(proc, args, timeout)
    except BaseException:
        stop_group(proc)
        raise
    finally:
        watch.close()
    _kill_group(proc.pid, signal.SIGKILL)  # anything it left running in its group
    if check and proc.returncode != 0 and not watch.tripped:
        output = (stdout + "\n" + stderr).splitlines()
        raise CommandError(args, proc.returncode, _tail(output))
    return subprocess.CompletedProcess(args, proc.returncode, stdout, stderr)


def _communicate(
    proc: subprocess.Popen[str], args: List[str], timeout: Optional[float]
) -> Tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_group(proc)
        stdout, stderr = proc.communicate()
        tail = _tail(((stdout or "") + "\n" + (stderr or "")).splitlines())
        raise CommandTimeoutError(args, float(timeout or 0), tail) from None


def _echo(
    proc: subprocess.Popen[str], args: List[str], skip: Tuple[str, ...], timeout: Optional[float]
) -> str:
    """Stream the child's merged output to our stderr; return all of it."""
    lines: List[str] = []
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        _kill_group(proc.pid, signal.SIGTERM)

    timer = threading.Timer(timeout, expire) if timeout is not None else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            lines.append(line)
            if not line.startswith(skip):
                sys.stderr.write(line)
        proc.wait()
    finally:
        if timer is not None:
            timer.cancel()
    if expired.is_set():
        stop_group(proc)
        raise CommandTimeoutError(args, float(timeout or 0), _tail(lines))
    return "".join(lines)


def run_attached(
    argv: Sequence[Arg],
    *,
    env: Mapping[str, str],
    cwd: Optional[Path] = None,
    guard: Optional[subprocess.Popen[str]] = None,
) -> int:
    """Run ``argv`` in the foreground, its output going straight to ours; return its exit code.

    If we are interrupted, the child's group gets SIGTERM (the child cleans up) and is waited
    for. If ``guard`` exits first, the child is stopped the same way.
    """
    args = [str(a) for a in argv]
    proc = _popen(args, env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL)
    try:
        while True:
            try:
                return proc.wait(timeout=0.25)
            except subprocess.TimeoutExpired:
                if guard is not None and guard.poll() is not None:
                    stop_group(proc)
                    return proc.wait()
    except BaseException:
        stop_group(proc)
        raise


def start(
    argv: Sequence[Arg],
    *,
    log: Path,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[Path] = None,
    pass_fds: Sequence[int] = (),
) -> subprocess.Popen[str]:
    """Start a background process, its output going to ``log``; stop it with :func:`stop`."""
    with log.open("wb") as sink:
        return _popen(
            [str(a) for a in argv],
            cwd=cwd,
            env=dict(env) if env is not None else child_environment(),
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            pass_fds=tuple(pass_fds),
        )


class _Spawner:
    """Starts long-lived children from one thread that lasts as long as this process.

    The kernel sends the parent-death signal when the *thread* that forked a child ends, not the
    process: a worker started from a short-lived thread (a thread pool's task, a request
    handler) would be killed with that thread. Calls from the main thread fork directly; after a
    fork of this process (Spark's Python daemon forks its workers) a new thread is started."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Optional[queue.SimpleQueue[Tuple[Callable[[], Any], Future[Any]]]] = None
        self._owner = 0

    def call(self, start: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
        if threading.current_thread() is threading.main_thread():
            return start()
        done: Future[subprocess.Popen[bytes]] = Future()
        self._queue().put((start, done))
        return done.result()

    def _queue(self) -> queue.SimpleQueue[Tuple[Callable[[], Any], Future[Any]]]:
        with self._lock:
            if self._requests is None or self._owner != os.getpid():
                self._requests = queue.SimpleQueue()
                self._owner = os.getpid()
                thread = threading.Thread(
                    target=self._serve, args=(self._requests,), name="dai-mlflow-spawner"
                )
                thread.daemon = True
                thread.start()
            return self._requests

    @staticmethod
    def _serve(requests: queue.SimpleQueue[Tuple[Callable[[], Any], Future[Any]]]) -> None:
        while True:
            start, done = requests.get()
            try:
                done.set_result(start())
            except BaseException as exc:  # handed to the caller waiting on it, which raises it
                done.set_exception(exc)


_SPAWNER = _Spawner()


def spawn_piped(
    argv: Sequence[Arg], *, env: Mapping[str, str], cwd: Optional[Path] = None
) -> subprocess.Popen[bytes]:
    """Start a long-lived child that we talk to over binary pipes (stdin, stdout, stderr); it
    dies with this process, whichever thread asked for it."""
    args = [str(a) for a in argv]

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            args,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_bound_to(os.getpid()),  # noqa: PLW1509  # prctl must run in the child
        )

    try:
        return _SPAWNER.call(start)
    except FileNotFoundError as exc:
        raise CommandError(args, 127, str(exc)) from exc


def stop(proc: subprocess.Popen[str], *, grace: float = 15.0) -> None:
    """Stop a process started by :func:`start` and everything it started (SIGTERM, then KILL)."""
    stop_group(proc, grace=grace)


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
