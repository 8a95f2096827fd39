"""Whether processes are still running (a zombie counts as gone), and waiting for them to go."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterable


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_gone(pids: Iterable[int], seconds: float = 15) -> bool:
    """True once none of ``pids`` runs; False if one still does after ``seconds``."""
    waiting = list(pids)
    deadline = time.monotonic() + seconds
    while any(alive(p) for p in waiting) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not any(alive(p) for p in waiting)
