"""Which files of an export folder go into a model: those the DAI export format defines.

A logged model can be downloaded by everyone who can read its experiment, so it carries only the
export's own files (wheels, requirement and environment files, example and server scripts, the
README, the column stats), never a license (``license.sig`` and other ``.sig`` files), and
nothing else a user put in the folder. Symbolic links are refused: what they point at is not
part of the export. Subfolders (``gen-py/`` that the Thrift scripts generate, ``tmp/`` logs,
virtual environments) are left out.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import List, Tuple

from ..errors import ExportError

# The export's own files (DAI 1.8 to 1.10 Python scoring pipelines).
EXPORT_PATTERNS = (
    "*.whl",
    "requirements.txt",
    "*_requirements.txt",
    "req_constraints_deps.txt",
    "full_constraints.txt",
    "environment.yml",
    "example.py",
    "example_client.py",
    "http_server.py",
    "tcp_server.py",
    "run_*.sh",
    "common-functions.sh",
    "scoring.thrift",
    "README.txt",
    "training_data_column_stats.json",
    "h2oai_experiment_summary_*.zip",
)
LICENSE_PATTERNS = ("license.sig", "*.sig", "license", "license.txt", "*.lic")
LICENSE_REASON = (
    "a Driverless AI license: never stored in a model; the serving environment gets it from "
    "DRIVERLESS_AI_LICENSE_KEY or DRIVERLESS_AI_LICENSE_FILE"
)


@dataclass(frozen=True)
class ExportFiles:
    """The files to copy, and what was left out with the reason."""

    files: Tuple[Path, ...]
    left_out: Tuple[Tuple[str, str], ...]


def _matches(name: str, patterns: Tuple[str, ...]) -> bool:
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, pattern.lower()) for pattern in patterns)


def is_license_file(name: str) -> bool:
    """A file name that holds a DAI license (``license.sig`` and the like; not a wheel)."""
    return not name.lower().endswith(".whl") and _matches(name, LICENSE_PATTERNS)


def refuse_link(entry: Path) -> None:
    """Raise if ``entry`` is a symbolic link: what it points at is not part of the export."""
    if entry.is_symlink():
        raise ExportError(
            f"{entry} is a symbolic link; a model stores only the export's own files.",
            tip="Replace the link with the file itself (or remove it) and log again.",
        )


def select_export_files(folder: Path) -> ExportFiles:
    """The files of ``folder`` that belong in a model; refuse symbolic links."""
    files: List[Path] = []
    left_out: List[Tuple[str, str]] = []
    for entry in sorted(folder.iterdir()):
        refuse_link(entry)
        if entry.is_dir():
            left_out.append((entry.name + "/", "a folder; the export format has none"))
        elif is_license_file(entry.name):
            left_out.append((entry.name, LICENSE_REASON))
        elif _matches(entry.name, EXPORT_PATTERNS):
            files.append(entry)
        else:
            left_out.append((entry.name, "not a file of a DAI scoring pipeline export"))
    return ExportFiles(tuple(files), tuple(left_out))
