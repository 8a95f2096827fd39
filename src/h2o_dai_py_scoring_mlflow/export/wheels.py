"""Check an export's wheels before anything is installed: each is a file (not a link), a
readable zip, built for CPython 3.8 (or any Python 3) on Linux.

A wheel for another Python or platform would otherwise fail deep inside an environment build,
minutes later, with uv's resolver message instead of the wheel's name.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

from ..errors import ExportError
from .files import refuse_link

_PYTHON_TAGS = ("py3", "py38", "cp38")
_ABI_TAGS = ("none", "abi3", "cp38")
_REDOWNLOAD = "Download the scoring pipeline from Driverless AI again; DAI exports cp38 wheels."


@dataclass(frozen=True)
class WheelTags:
    """The compatibility tags of a wheel filename (each may hold several, dot-separated)."""

    python: Tuple[str, ...]
    abi: Tuple[str, ...]
    platform: Tuple[str, ...]


def wheel_tags(filename: str) -> Optional[WheelTags]:
    """The tags of ``name-version[-build]-python-abi-platform.whl``; None if it is not one."""
    if not filename.endswith(".whl"):
        return None
    parts = filename[: -len(".whl")].split("-")
    if len(parts) not in (5, 6):
        return None
    python, abi, platform = parts[-3:]
    return WheelTags(tuple(python.split(".")), tuple(abi.split(".")), tuple(platform.split(".")))


def _runs_on_linux_38(tags: WheelTags) -> bool:
    return (
        any(tag in _PYTHON_TAGS for tag in tags.python)
        and any(tag in _ABI_TAGS for tag in tags.abi)
        and any(tag == "any" or tag.startswith(("linux_", "manylinux")) for tag in tags.platform)
    )


def check_wheels(folder: Path) -> None:
    """Raise an :class:`ExportError` naming the first wheel of ``folder`` that cannot install."""
    for wheel in sorted(folder.glob("*.whl")):
        refuse_link(wheel)
        tags = wheel_tags(wheel.name)
        if tags is None:
            raise ExportError(
                f"{wheel}: not a wheel filename (name-version-python-abi-platform.whl).",
                tip=_REDOWNLOAD,
            )
        if not _runs_on_linux_38(tags):
            raise ExportError(
                f"{wheel} is built for {'.'.join(tags.python)}/{'.'.join(tags.abi)} on "
                f"{'.'.join(tags.platform)}; the scorer runs on CPython 3.8 on Linux.",
                tip=_REDOWNLOAD,
            )
        if not zipfile.is_zipfile(wheel):
            raise ExportError(
                f"{wheel} is not a valid wheel (not a zip file; truncated or corrupt).",
                tip=_REDOWNLOAD,
            )
