"""Temporary folders that a killed process cannot leave behind for good.

Each is named ``dai-mlflow-<purpose>-<pid>-<random>`` in the system's temporary folder and is
removed when its block ends. A process killed outright (``kill -9``) cannot do that, so
:func:`sweep_stale_scratch` removes the folders of this user whose process is gone; the CLI and
the entry points call it when they start. Standard library only: every wing may use it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, List, Optional

LOG = logging.getLogger(__name__)
PREFIX = "dai-mlflow-"
_NAME = re.compile(r"^dai-mlflow-[a-z]+-(\d+)-[A-Za-z0-9_]+$")


@contextlib.contextmanager
def scratch_dir(purpose: str) -> Iterator[Path]:
    """A new private folder for ``purpose`` (lowercase letters), removed when the block ends."""
    if not purpose.isalpha() or not purpose.islower():
        raise ValueError(f"scratch purpose must be lowercase letters, not {purpose!r}")
    path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{purpose}-{os.getpid()}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def sweep_stale_scratch(root: Optional[Path] = None) -> List[Path]:
    """Remove this user's scratch folders whose process has exited; return what was removed."""
    folder = root or Path(tempfile.gettempdir())
    removed = []
    for entry in folder.glob(f"{PREFIX}*"):
        match = _NAME.match(entry.name)
        if match is None or _alive(int(match.group(1))):
            continue
        try:
            info = entry.lstat()
        except FileNotFoundError:
            continue
        if entry.is_symlink() or not entry.is_dir() or info.st_uid != os.getuid():
            continue
        LOG.debug("removing %s, left by process %s that has gone", entry, match.group(1))
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
