"""Loopback servers the tests start: a free port, and waiting until one answers /ping."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from typing import Any


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_ping(port: int, server: subprocess.Popen[Any], timeout: float = 600) -> None:
    """Return once http://127.0.0.1:port/ping answers; fail if ``server`` stops first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                return
        except OSError:
            if server.poll() is not None:
                raise AssertionError(f"the server stopped with code {server.returncode}") from None
            time.sleep(1)
    raise AssertionError(f"nothing answered on port {port} within {timeout:.0f} s")
