"""Find an MLflow outside this environment that can open a tracking store this one cannot.

Asked by an entry point that MLflow started in the Project environment (MLflow 2.17) for a store
that a newer MLflow owns. Looked at in order, each at the cost of one short interpreter start:

1. ``H2O_DAI_MLFLOW_BRIDGE_PYTHON``, when set;
2. the Python of the process that started this entry point (``mlflow run`` or a notebook calling
   ``mlflow.projects.run``), found through ``/proc`` past the ``bash -c`` MLflow wraps it in;
3. every ``mlflow`` command on ``PATH`` outside this environment (its interpreter).

A candidate fits when its MLflow has the server parts (Flask, Werkzeug) and knows the store's
schema revision (a database) or is newer than this MLflow (a file store).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Tuple

from ..errors import CommandError, DaiMlflowError
from ..runtime import processes
from ..settings import BRIDGE_PYTHON, Settings
from .store_compat import (
    StoreCheck,
    default_artifact_root,
    migration_revisions,
    own_mlflow_version,
)

LOG = logging.getLogger(__name__)
_SHELLS = frozenset({"bash", "sh", "dash", "zsh", "ksh", "env", "nohup", "setsid", "timeout"})
_PROBE = """
import importlib.util, json, sys
found = {"executable": sys.executable}
spec = importlib.util.find_spec("mlflow")
if spec is not None and spec.origin:
    import importlib.metadata
    found["package"] = spec.origin.rsplit("/", 1)[0]
    found["version"] = importlib.metadata.version("mlflow")
    found["server"] = all(importlib.util.find_spec(m) for m in ("flask", "werkzeug"))
print(json.dumps(found))
"""


@dataclass(frozen=True)
class Candidate:
    python: Path
    where: str


@dataclass(frozen=True)
class StoreServerPython:
    """A Python whose MLflow can serve the store, and where it was found."""

    python: Path
    mlflow_version: str
    where: str


class NoMlflowForStoreError(DaiMlflowError):
    """The store needs a newer MLflow than this environment's, and none was found."""

    def __init__(self, check: StoreCheck, searched: List[str]) -> None:
        looked = "; ".join(searched) or "nowhere"
        root = default_artifact_root(check.uri)
        artifacts = f" --default-artifact-root {root}" if root is not None else ""
        super().__init__(
            f"MLflow {own_mlflow_version()} in this Python 3.8 environment cannot open the "
            f"tracking store {check.uri}: {check.problem}, and no MLflow that can was found "
            f"(looked at: {looked}).",
            tip=(
                "Serve the store with the MLflow that owns it and point the run at it: "
                f"`mlflow server --backend-store-uri {check.uri}{artifacts} --no-serve-artifacts "
                "--host 127.0.0.1 --port 5000`, then MLFLOW_TRACKING_URI=http://127.0.0.1:5000.\n"
                f"Or set {BRIDGE_PYTHON.name} to a Python whose MLflow can open it (the one you "
                "ran `mlflow run` with): the entry point then serves it itself.\n"
                "Or run `dai-mlflow log-model` / `dai-mlflow score` from that Python: they "
                "bridge the store automatically."
            ),
        )


def _proc(pid: int, name: str) -> bytes:
    return (Path("/proc") / str(pid) / name).read_bytes()


def _parent(pid: int) -> int:
    stat = _proc(pid, "stat").decode(errors="replace")
    return int(stat.rsplit(")", 1)[1].split()[1])


def _starter_pid() -> Optional[int]:
    """The nearest ancestor that is not a shell wrapper."""
    pid = os.getppid()
    for _ in range(8):
        if pid <= 1:
            return None
        try:
            command = _proc(pid, "comm").decode(errors="replace").strip()
            if command not in _SHELLS:
                return pid
            pid = _parent(pid)
        except OSError:
            return None
    return None


def _environ_of(pid: int) -> Dict[str, str]:
    try:
        raw = _proc(pid, "environ")
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {key.decode(errors="replace"): value.decode(errors="replace") for key, value in pairs}


def _starter_pythons() -> Iterator[Candidate]:
    pid = _starter_pid()
    if pid is None:
        return
    where = f"the process that started this entry point (pid {pid})"
    try:
        argv0 = _proc(pid, "cmdline").split(b"\0")[0].decode(errors="replace")
    except OSError:
        return
    if argv0:
        path = Path(argv0)
        if not path.is_absolute():
            found = shutil.which(argv0, path=_environ_of(pid).get("PATH", ""))
            path = Path(found) if found else path
        if path.is_absolute():
            yield Candidate(path, where)
    try:
        yield Candidate(Path(os.readlink(f"/proc/{pid}/exe")), where)
    except OSError:
        return


def _shebang_python(script: Path, environ: Mapping[str, str]) -> Optional[Path]:
    try:
        with script.open("rb") as handle:
            first = handle.readline(512).decode(errors="replace").strip()
    except OSError:
        return None
    if not first.startswith("#!"):
        return None
    words = first[2:].split()
    if not words:
        return None
    if Path(words[0]).name == "env" and len(words) > 1:
        found = shutil.which(words[-1], path=environ.get("PATH", ""))
        return Path(found) if found else None
    return Path(words[0])


def _path_mlflows(environ: Mapping[str, str]) -> Iterator[Candidate]:
    own = Path(sys.prefix).resolve()
    for folder in environ.get("PATH", "").split(os.pathsep):
        script = Path(folder or ".") / "mlflow"
        if not (script.is_file() and os.access(script, os.X_OK)):
            continue
        if own in script.resolve().parents:
            continue
        python = _shebang_python(script, environ)
        if python is not None:
            yield Candidate(python, f"mlflow on PATH ({script})")


def candidates(settings: Settings, environ: Mapping[str, str]) -> Iterator[Candidate]:
    """Every place to look, in order (duplicates included)."""
    if settings.bridge_python is not None:
        yield Candidate(settings.bridge_python, BRIDGE_PYTHON.name)
    if sys.platform.startswith("linux"):
        yield from _starter_pythons()
    yield from _path_mlflows(environ)


def _probe(python: Path) -> Dict[str, object]:
    try:
        out = processes.run([python, "-c", _PROBE], timeout=20).stdout
    except CommandError as exc:
        LOG.debug("probing %s failed: %s", python, exc.message)
        return {}
    lines = out.strip().splitlines()
    parsed = json.loads(lines[-1]) if lines else {}
    return parsed if isinstance(parsed, dict) else {}


def _version_tuple(text: str) -> Tuple[int, ...]:
    parts = []
    for part in text.split("."):
        digits = "".join(c for c in part if c.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def _fits(check: StoreCheck, found: Dict[str, object]) -> Optional[str]:
    """None when the probed MLflow can serve the store, else why not."""
    version = str(found.get("version") or "")
    if not version:
        return "no MLflow"
    if not found.get("server"):
        return f"MLflow {version} without its server (Flask/Werkzeug)"
    if check.kind == "database":
        revisions = migration_revisions(Path(str(found["package"])))
        return None if check.revision in revisions else f"MLflow {version}, too old"
    newer = _version_tuple(version) > _version_tuple(own_mlflow_version())
    return None if newer else f"MLflow {version}, not newer"


def find_store_server_python(
    check: StoreCheck, settings: Settings, environ: Optional[Mapping[str, str]] = None
) -> StoreServerPython:
    """The first candidate whose MLflow can serve ``check``'s store; raise if there is none."""
    env = os.environ if environ is None else environ
    own = Path(sys.executable)
    seen: List[Path] = []
    searched: List[str] = [] if settings.bridge_python else [f"{BRIDGE_PYTHON.name} (unset)"]
    for candidate in candidates(settings, env):
        if candidate.python in seen:
            continue
        seen.append(candidate.python)
        if candidate.python == own:
            searched.append(f"{candidate.where}: this environment (MLflow {own_mlflow_version()})")
            continue
        found = _probe(candidate.python)
        reason = _fits(check, found)
        if reason is None:
            return StoreServerPython(candidate.python, str(found["version"]), candidate.where)
        searched.append(f"{candidate.where}: {candidate.python} ({reason})")
    if not any(s.startswith("mlflow on PATH") for s in searched):
        searched.append("mlflow on PATH: none outside this environment")
    raise NoMlflowForStoreError(check, searched)
