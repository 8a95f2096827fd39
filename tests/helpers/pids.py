"""Whether processes are still running (a zombie counts as gone), and waiting for them to go."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Iterable, List, Sequence


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


_DEFAULT_SIGINT_EXEC = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


def at_a_terminal(argv: Sequence[object]) -> List[str]:
    """``argv`` run with SIGINT back to its default, to take Ctrl-C as at a terminal. A shell
    that starts a job in the background (`cmd &`, no job control) sets SIGINT to ignored, every
    descendant inherits that, and Python then installs no KeyboardInterrupt handler: a test of
    Ctrl-C must not depend on how the test run was started."""
    return [sys.executable, "-c", _DEFAULT_SIGINT_EXEC, *[str(a) for a in argv]]
