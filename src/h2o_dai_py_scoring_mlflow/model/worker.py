"""Predict with a logged model from any Python: one long-lived Python 3.8 worker process
(:mod:`.worker_process`) loads the model once, in the environment built from the model's own
files, and answers the frames it is sent as Arrow IPC streams over pipes (typed, no pickle).

One worker per :class:`ScoringWorker`; calls are serialised, so threads may share one. The
worker dies with this process (parent-death signal), is stopped when the object is collected or
the interpreter exits, and a worker that died is started again once per call before the error
is raised. Runs on the caller's Python (a notebook, a Spark executor's Python worker); needs
pandas and pyarrow there.
"""

from __future__ import annotations

import collections
import json
import logging
import shutil
import struct
import sys
import tempfile
import threading
import weakref
from pathlib import Path
from subprocess import Popen
from typing import IO, Any, Callable, Deque, Dict, Mapping, Optional, Tuple

from ..errors import DaiMlflowError
from ..runtime import processes
from ..runtime.environments import PythonEnvironment
from ..settings import load_settings
from .environment import model_environment

LOG = logging.getLogger(__name__)
WORKER_SCRIPT = Path(__file__).with_name("worker_process.py")
_LENGTHS = struct.Struct(">II")
_TAIL_LINES = 30


class WorkerError(DaiMlflowError):
    """The Python 3.8 worker could not start, or failed a prediction (its message included)."""


class _WorkerDied(Exception):
    """The worker process ended (or its pipes closed) during a call."""


def _table_of(frame: Any) -> Any:
    """``frame`` as a pyarrow Table. A column pyarrow cannot type as it stands (Python objects of
    mixed types) is sent as text, missing values kept missing; the model coerces per column."""
    import pandas as pd  # noqa: PLC0415
    import pyarrow as pa  # noqa: PLC0415

    frame = frame.reset_index(drop=True)
    arrays = []
    for name in frame.columns:
        column = frame[name]
        try:
            arrays.append(pa.array(column, from_pandas=True))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            text = column.map(lambda v: None if pd.isna(v) else str(v))
            arrays.append(pa.array(text, type=pa.string(), from_pandas=True))
    return pa.Table.from_arrays(arrays, names=[str(name) for name in frame.columns])


def _table_bytes(table: Any) -> bytes:
    """``table`` as an Arrow IPC stream."""
    import pyarrow as pa  # noqa: PLC0415

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _table_from(payload: bytes) -> Any:
    import pyarrow as pa  # noqa: PLC0415

    return pa.ipc.open_stream(payload).read_all()


class _Process:
    """One running worker process, its pipes, and the tail of what it wrote to stderr."""

    def __init__(self, argv: Tuple[processes.Arg, ...], env: Mapping[str, str]) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="dai-mlflow-worker-"))
        self.tail: Deque[str] = collections.deque(maxlen=_TAIL_LINES)
        self.popen: Popen[bytes] = processes.spawn_piped(argv, env=env, cwd=self.workdir)
        self._relay = threading.Thread(target=self._forward_stderr, daemon=True)
        self._relay.start()

    def _forward_stderr(self) -> None:
        assert self.popen.stderr is not None
        for raw in self.popen.stderr:
            line = raw.decode("utf-8", errors="replace")
            self.tail.append(line.rstrip())
            sys.stderr.write(line)

    def call(self, header: Dict[str, Any], payload: bytes = b"") -> Tuple[Dict[str, Any], bytes]:
        stdin, stdout = self.popen.stdin, self.popen.stdout
        assert stdin is not None and stdout is not None
        encoded = json.dumps(header).encode("utf-8")
        try:
            if header:
                stdin.write(_LENGTHS.pack(len(encoded), len(payload)) + encoded + payload)
                stdin.flush()
            return self._read(stdout)
        except (BrokenPipeError, ConnectionResetError, OSError) as exc:
            raise _WorkerDied(str(exc)) from exc

    def _read(self, stream: IO[bytes]) -> Tuple[Dict[str, Any], bytes]:
        head = stream.read(_LENGTHS.size)
        if len(head) < _LENGTHS.size:
            raise _WorkerDied("the worker closed its output")
        header_size, payload_size = _LENGTHS.unpack(head)
        answer: Dict[str, Any] = json.loads(stream.read(header_size).decode("utf-8"))
        return answer, stream.read(payload_size)

    def stop(self) -> None:
        processes.stop_group(self.popen, grace=5.0)
        for pipe in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            if pipe is None:
                continue
            try:
                pipe.close()
            except BrokenPipeError:  # unsent bytes to a worker that has already gone
                LOG.debug("the worker's input was closed with bytes unsent")
        shutil.rmtree(self.workdir, ignore_errors=True)

    def stderr_tail(self) -> str:
        return "\n".join(self.tail)


def _stop(process: _Process) -> None:
    process.stop()


class ScoringWorker:
    """A logged model answered by a long-lived Python 3.8 worker."""

    def __init__(
        self,
        model_dir: Path,
        environment: PythonEnvironment,
        *,
        extra_env: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.model_dir = model_dir
        self._argv: Tuple[processes.Arg, ...] = (
            environment.python,
            WORKER_SCRIPT,
            "--model",
            model_dir,
        )
        self._env = processes.child_environment(extra_env)
        self._lock = threading.Lock()
        self._process: Optional[_Process] = None
        self._finalizer: Optional[Callable[[], Any]] = None

    def _start(self) -> _Process:
        process = _Process(self._argv, self._env)
        self._finalizer = weakref.finalize(self, _stop, process)
        try:
            ready, _ = process.call({})
        except _WorkerDied:
            self._discard(process)
            raise WorkerError(
                f"The Python 3.8 worker for {self.model_dir} stopped while loading the model.\n"
                + process.stderr_tail(),
                tip="Its output is above; `dai-mlflow validate --model-uri ...` names the cause.",
            ) from None
        if not ready.get("ok"):
            self._discard(process)
            raise WorkerError(
                f"The model {self.model_dir} could not be loaded in Python 3.8: "
                f"{ready.get('error')}",
                tip="Run `dai-mlflow validate --model-uri ...` to see what is missing.",
            )
        return process

    def start(self) -> None:
        """Start the worker and load the model now, rather than on the first prediction."""
        with self._lock:
            if self._process is None:
                self._process = self._start()

    def _discard(self, process: _Process) -> None:
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None
        if self._process is process:
            self._process = None

    def predict(self, frame: Any, params: Optional[Dict[str, Any]] = None) -> Any:
        """``frame``'s predictions (a pandas DataFrame), computed by the worker."""
        return self.predict_arrow(_table_of(frame), params).to_pandas()

    def predict_arrow(self, table: Any, params: Optional[Dict[str, Any]] = None) -> Any:
        """``table``'s predictions (pyarrow Tables both), computed by the worker: no pandas on
        this side (Spark's Arrow batches go through as they are)."""
        return _table_from(self._exchange(_table_bytes(table), params))

    def _exchange(self, payload: bytes, params: Optional[Dict[str, Any]]) -> bytes:
        with self._lock:
            for attempt in (1, 2):
                if self._process is None:
                    self._process = self._start()
                process = self._process
                try:
                    answer, result = process.call({"params": params or {}}, payload)
                except _WorkerDied:
                    tail = process.stderr_tail()
                    self._discard(process)
                    if attempt == 2:
                        raise WorkerError(
                            f"The Python 3.8 worker for {self.model_dir} died twice while "
                            "predicting." + (f"\n{tail}" if tail else ""),
                            tip="Its output is above; a worker that died is started again "
                            "once per call.",
                        ) from None
                    LOG.warning("the Python 3.8 worker died; starting it again")
                    continue
                if not answer.get("ok"):
                    raise WorkerError(f"{answer.get('type')}: {answer.get('error')}")
                return result
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Stop the worker now (it would be stopped at exit or collection anyway)."""
        with self._lock:
            if self._process is not None:
                self._discard(self._process)

    @property
    def pid(self) -> Optional[int]:
        return self._process.popen.pid if self._process is not None else None


def worker_for_model(model_dir: Path) -> ScoringWorker:
    """A started worker for the logged model in ``model_dir``: its Python 3.8 environment built
    from the model's own files (once per machine; the build's output shown on stderr), the model
    loaded there."""
    worker = ScoringWorker(model_dir, model_environment(model_dir, load_settings(), echo=True))
    worker.start()
    return worker
