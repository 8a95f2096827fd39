"""Resolve a model's requirements for the serving platform (CPython 3.8, manylinux x86_64) with
uv, without installing anything: a pin conflict found here is an endpoint build that would fail.

The model's own wheels resolve from its files (nothing to download for them); the rest from the
package index or uv's cache. A conflict is reported with the requirement lines of every package
uv names in its explanation. The pinned result can be written into the model (``--lock``) so
that every later rebuild installs exactly the same versions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from ..errors import CommandError
from ..export.requirements import ARTIFACTS_FOLDER, canonical_name, parse_requirements
from ..model.environment import model_python_version, model_requirement_lines
from ..runtime import processes
from ..scratch import scratch_dir
from ..settings import Settings
from .report import CheckResult, failed, passed, skipped

SERVING_PLATFORM = "x86_64-manylinux_2_17"
_UNREACHABLE = ("error sending request", "failed to fetch", "dns error", "network", "offline")
_PACKAGE_IN_MESSAGE = re.compile(r"\b([A-Za-z0-9][A-Za-z0-9._-]*)(?:[=<>!~]=|\[|>|<| was| is)")


@dataclass(frozen=True)
class ServingResolution:
    """The check's result and, when the requirements resolve, the pinned lines."""

    check: CheckResult
    pins: Tuple[str, ...] = ()


def _conflict_lines(model_dir: Path, message: str) -> List[str]:
    """``line N: text`` for each requirement whose package uv's explanation mentions."""
    named = {canonical_name(m.group(1)) for m in _PACKAGE_IN_MESSAGE.finditer(message)}
    text = (model_dir / "requirements.txt").read_text(encoding="utf-8")
    return [
        f"line {line.line_number}: {line.text}"
        for line in parse_requirements(text)
        if line.name in named
    ]


def _explanation(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    kept = [line for line in lines if not line.lower().startswith(("hint:", "warning:"))]
    return " ".join(kept)[:1200]


def resolve_for_serving(model_dir: Path, settings: Settings) -> ServingResolution:
    """Resolve ``model_dir``'s requirements for CPython 3.8 on manylinux x86_64."""
    name = "serving resolution"
    uv = processes.find_uv(settings.uv)
    if uv is None:
        return ServingResolution(skipped(name, "uv was not found (H2O_DAI_MLFLOW_UV or PATH)"))
    with scratch_dir("resolve") as scratch:
        source, target = scratch / "requirements.in", scratch / "requirements.lock"
        source.write_text("\n".join(model_requirement_lines(model_dir)) + "\n", encoding="utf-8")
        argv: List[processes.Arg] = [
            uv, "pip", "compile", source, "-o", target, "--quiet", "--no-header",
            "--no-annotate", "--python-version", model_python_version(model_dir),
            "--python-platform", SERVING_PLATFORM,
        ]  # fmt: skip
        try:
            processes.run(argv, env=processes.child_environment(), cwd=scratch, timeout=600)
        except CommandError as exc:
            message = _explanation(exc.output_tail)
            if any(word in message.lower() for word in _UNREACHABLE):
                return ServingResolution(
                    skipped(name, f"the package index could not be reached: {message[:300]}")
                )
            involved = _conflict_lines(model_dir, message)
            return ServingResolution(
                failed(
                    name,
                    f"the requirements cannot be installed together on CPython 3.8 "
                    f"(manylinux x86_64): {message}"
                    + (f" Lines involved: {'; '.join(involved)}." if involved else ""),
                    "Remove or relax the conflicting pin in requirements.txt (and conda.yaml), "
                    "or exclude the package with H2O_DAI_MLFLOW_EXCLUDE_PACKAGES and log again.",
                )
            )
        pins = _pinned_lines(target.read_text(encoding="utf-8"), model_dir)
    return ServingResolution(
        passed(name, f"{len(pins)} packages resolve for CPython 3.8 on manylinux x86_64"),
        tuple(pins),
    )


def _pinned_lines(compiled: str, model_dir: Path) -> List[str]:
    """uv's output with the model's own wheels as model-relative paths again."""
    wheels = {
        w.name: f"{ARTIFACTS_FOLDER}/{w.name}" for w in (model_dir / ARTIFACTS_FOLDER).glob("*.whl")
    }
    pins = []
    for raw in compiled.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        local = _local_wheel(line)
        pins.append(wheels.get(local, line) if local else line)
    return pins


def _local_wheel(line: str) -> Optional[str]:
    """The file name of a ``name @ file:///…/x.whl`` (or plain path) line, else None."""
    target = line.split(" @ ", 1)[1] if " @ " in line else line
    if target.endswith(".whl") and ("/" in target or target.startswith("file:")):
        return target.rsplit("/", 1)[-1]
    return None
