"""`validate --lock`: write the fully pinned resolution into the model, so that every Serving
rebuild installs exactly the same versions (an unpinned dependency drifting is how psutil's
``RLIM_INFINITY`` broke served models).

``requirements.txt`` becomes the pinned list (its first version is kept as ``requirements.in``,
so locking twice starts from the same source) and ``conda.yaml``'s pip section follows it. A
local model folder is changed in place; a run's model (``runs:/``) gets the files logged back
into the run; a registered version (``models:/``) is immutable, so it is refused.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import List, Optional
from urllib.parse import urlparse

from ..version import __version__
from .report import CheckResult, failed, passed, skipped
from .resolution import ServingResolution

_LOCKED = ("requirements.txt", "requirements.in", "conda.yaml")
_RUNS_URI = re.compile(r"^runs:/([^/]+)/(.+)$")


def _locked_requirements(pins: List[str]) -> str:
    header = [
        "# requirements.txt of an H2O DAI scoring pipeline model, locked",
        f"# Locked by h2o_dai_py_scoring_mlflow {__version__} (`dai-mlflow validate --lock`) from",
        "# requirements.in: every package pinned for CPython 3.8 on manylinux x86_64.",
    ]
    return "\n".join([*header, *pins]) + "\n"


def _locked_conda(conda: str, pins: List[str]) -> str:
    """conda.yaml with its pip section replaced by ``pins``."""
    out: List[str] = []
    in_pip = False
    for line in conda.splitlines():
        if line.strip() == "- pip:":
            out.append(line)
            out.extend(f"  - {pin}" for pin in pins)
            in_pip = True
            continue
        if in_pip and line.startswith("  - "):
            continue
        in_pip = False
        out.append(line)
    return "\n".join(out) + "\n"


def write_lock(model_dir: Path, pins: List[str]) -> None:
    """Pin ``model_dir``'s requirements.txt and conda.yaml to ``pins``."""
    source = model_dir / "requirements.in"
    if not source.is_file():
        (model_dir / "requirements.txt").replace(source)
    (model_dir / "requirements.txt").write_text(_locked_requirements(pins), encoding="utf-8")
    conda = model_dir / "conda.yaml"
    conda.write_text(_locked_conda(conda.read_text(encoding="utf-8"), pins), encoding="utf-8")


def _log_back(model_dir: Path, run_id: str, artifact_path: str) -> None:
    import mlflow  # noqa: PLC0415  # the caller's MLflow

    client = mlflow.MlflowClient()
    for name in _LOCKED:
        client.log_artifact(run_id, str(model_dir / name), artifact_path)


def lock_model(
    model_dir: Path, model_uri: Optional[str], resolution: ServingResolution
) -> CheckResult:
    """Lock the model at ``model_uri`` (downloaded or local in ``model_dir``) if it resolved."""
    if not resolution.pins:
        return skipped("lock", "nothing to lock: the serving resolution did not succeed")
    if model_uri is None:
        return skipped("lock", "an export is not a logged model: lock the model after logging it")
    scheme = urlparse(model_uri).scheme
    runs = _RUNS_URI.match(model_uri)
    if scheme not in ("", "file", "dbfs") and runs is None:
        return failed(
            "lock",
            f"{model_uri} cannot be changed (a registered version is immutable)",
            "Lock the run's model (runs:/<run_id>/<path>) before registering it, or a local "
            "copy of the model folder, then register that.",
        )
    pins = list(resolution.pins)
    write_lock(model_dir, pins)
    if runs is not None:
        _log_back(model_dir, runs.group(1), runs.group(2))
    return passed("lock", f"requirements.txt and conda.yaml pinned ({len(pins)} packages)")
