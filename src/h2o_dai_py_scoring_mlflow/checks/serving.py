"""Serve a logged model as Databricks Model Serving would: MLflow 2.17's `mlflow models serve`
from an environment built only from the model's own files (MLflow 3.x cannot serve a model whose
environment holds MLflow 2.17). Used by `validate --serve` (in the background, on a free
loopback port, always stopped) and by `dai-mlflow serve` (in the foreground).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen
from typing import Any, Dict, Iterator, List, Mapping, Optional

from ..errors import DaiMlflowError
from ..runtime import processes
from ..runtime.environments import PythonEnvironment
from ..scratch import scratch_dir

_START_TIMEOUT_S = 300.0


class ServeError(DaiMlflowError):
    """The model server did not start, or answered an error."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_command(
    env: PythonEnvironment, model_dir: Path, *, host: str, port: int, workers: int
) -> List[processes.Arg]:
    """``mlflow models serve`` of MLflow 2.17 from ``env``, using that environment as is."""
    return [
        env.python, "-m", "mlflow", "models", "serve", "-m", model_dir,
        "--env-manager", "local", "-h", host, "-p", str(port), "-w", str(workers),
    ]  # fmt: skip


def serve_environment(
    env: PythonEnvironment, extra: Optional[Mapping[str, str]] = None
) -> Dict[str, str]:
    """The server's variables: the environment's own tools (gunicorn) first on PATH."""
    path = f"{env.path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    return processes.child_environment({"PATH": path, **(extra or {})})


@dataclass(frozen=True)
class ModelServer:
    """A running model server on loopback."""

    url: str
    process: Popen[str]
    log: Path

    def post(self, body: bytes, content_type: str) -> Any:
        """POST ``body`` to /invocations; the parsed JSON answer, or ServeError with the error."""
        request = urllib.request.Request(
            f"{self.url}/invocations", data=body, headers={"Content-Type": content_type}
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:1000]
            raise ServeError(f"/invocations answered {exc.code}: {detail}") from None

    def failure(self, what: str) -> ServeError:
        tail = self.log.read_text(encoding="utf-8", errors="replace")[-2000:].strip()
        return ServeError(
            f"The model server {what}." + (f"\n{tail}" if tail else ""),
            tip="Its log is above; `dai-mlflow validate` names the missing piece.",
        )


def _wait_ready(server: ModelServer) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise server.failure(f"stopped with exit code {server.process.returncode}")
        try:
            with urllib.request.urlopen(f"{server.url}/ping", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise server.failure(f"did not answer /ping within {_START_TIMEOUT_S:.0f} s")


@contextlib.contextmanager
def serve_model(
    env: PythonEnvironment,
    model_dir: Path,
    *,
    workers: int = 1,
    extra_env: Optional[Mapping[str, str]] = None,
) -> Iterator[ModelServer]:
    """Serve ``model_dir`` on a free loopback port until the block ends (it is always stopped)."""
    port = free_port()
    with scratch_dir("serve") as scratch:
        log = scratch / "server.log"
        argv = serve_command(env, model_dir, host="127.0.0.1", port=port, workers=workers)
        process = processes.start(argv, log=log, env=serve_environment(env, extra_env), cwd=scratch)
        server = ModelServer(f"http://127.0.0.1:{port}", process, log)
        try:
            _wait_ready(server)
            yield server
        finally:
            processes.stop(process)
