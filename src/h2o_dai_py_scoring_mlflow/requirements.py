"""Read an export's requirements.txt and turn it into what can really be installed.

Real exports mix bare wheel filenames with ``name==version`` pins; they may carry comments,
blank lines, CRLF line ends, environment markers and extras. Two default exclusions keep the
export installable on a CPU host: ``h2o4gpu`` (GPU-only, conflicts with the CPU stack) and
``pyorc`` (builds from source) unless a pyorc wheel ships in the export.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .errors import ExportError

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")

DEFAULT_EXCLUSIONS: Dict[str, str] = {
    "h2o4gpu": "GPU-only build of DAI's algorithms; not installable on CPU hosts and conflicts "
    "with the CPU scikit-learn stack",
    "pyorc": "builds from source on most hosts and is only needed for ORC input; kept when a "
    "pyorc wheel ships in the export",
}


def canonical_name(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class RequirementLine:
    """One meaningful line of requirements.txt."""

    text: str
    line_number: int
    name: Optional[str]
    wheel: Optional[str]


@dataclass(frozen=True)
class ResolvedRequirements:
    """Lines to install (wheels as absolute paths) and lines left out, with reasons."""

    install: Tuple[str, ...]
    excluded: Tuple[Tuple[RequirementLine, str], ...]


def _wheel_project(filename: str) -> str:
    return canonical_name(filename.split("-", 1)[0])


def parse_requirements(text: str) -> List[RequirementLine]:
    """The meaningful lines of a requirements file (comments and blanks dropped)."""
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        wheel = (
            line if line.lower().endswith(".whl") and "/" not in line and ";" not in line else None
        )
        if wheel is not None:
            lines.append(RequirementLine(line, number, _wheel_project(wheel), wheel))
            continue
        match = _NAME.match(line) if not line.startswith("-") else None
        name = canonical_name(match.group(1)) if match else None
        lines.append(RequirementLine(line, number, name, None))
    return lines


def resolve_requirements(
    folder: Path,
    lines: Sequence[RequirementLine],
    *,
    exclusions: Optional[Dict[str, str]] = None,
) -> ResolvedRequirements:
    """Wheel lines become paths of the wheels present in ``folder``; excluded packages drop out."""
    rules = {
        canonical_name(k): v
        for k, v in (DEFAULT_EXCLUSIONS if exclusions is None else exclusions).items()
    }
    if "pyorc" in rules and any(folder.glob("pyorc-*.whl")):
        del rules["pyorc"]
    install: List[str] = []
    excluded: List[Tuple[RequirementLine, str]] = []
    for line in lines:
        if line.name is not None and line.name in rules:
            excluded.append((line, rules[line.name]))
            continue
        if line.wheel is None:
            install.append(line.text)
            continue
        wheel = folder / line.wheel
        if not wheel.is_file():
            raise ExportError(
                f"{folder / 'requirements.txt'} line {line.line_number} names {line.wheel}, "
                "which is not in the export.",
                tip="Download the scoring pipeline from Driverless AI again; "
                "this export is incomplete.",
            )
        install.append(str(wheel))
    return ResolvedRequirements(tuple(install), tuple(excluded))


def export_requirements(folder: Path) -> ResolvedRequirements:
    """The installable requirements of the export in ``folder``."""
    path = folder / "requirements.txt"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ExportError(
            f"{path} is missing.",
            tip="A DAI Python scoring pipeline export ships requirements.txt.",
        ) from None
    return resolve_requirements(folder, parse_requirements(text))
