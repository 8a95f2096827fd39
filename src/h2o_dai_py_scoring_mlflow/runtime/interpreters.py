"""Find the Python 3.8 interpreter to build environments with, as an ordered, explainable strategy.

1. ``H2O_DAI_MLFLOW_PYTHON`` (an explicit interpreter path) wins.
2. The pinned version found exactly: uv-managed installs, pyenv's ``versions/``, then PATH.
3. ``uv python install <pin>`` where downloads work (a failure is remembered for a day).
4. Unless strict: the newest local interpreter of the same minor, with one warning.
5. Otherwise :class:`InterpreterNotFoundError` listing every place searched.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Tuple

from ..errors import CommandError, InterpreterNotFoundError, SettingError
from ..settings import PYTHON, PythonDownloads, Settings
from . import processes

LOG = logging.getLogger(__name__)

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?")
_PROBE = "import sys; print('%d.%d.%d' % sys.version_info[:3])"
_DOWNLOAD_RETRY_SECONDS = 24 * 3600
_DOWNLOAD_MEMO = ".dai-mlflow-python-downloads.json"
# The environment variables that change where interpreters are looked for.
_SEARCH_VARIABLES = ("PATH", "PYENV_ROOT", "UV_PYTHON_INSTALL_DIR", "HOME")
_RESOLVED: Dict[Tuple[object, ...], Resolution] = {}


@dataclass(frozen=True, order=True)
class PythonVersion:
    """A CPython version; ``micro`` is None for a pin like ``3.8``."""

    major: int
    minor: int
    micro: Optional[int] = None

    @classmethod
    def parse(cls, text: str) -> PythonVersion:
        match = _VERSION_RE.match(text.strip())
        if match is None:
            raise ValueError(f"not a Python version: {text!r}")
        micro = match.group(3)
        return cls(int(match.group(1)), int(match.group(2)), int(micro) if micro else None)

    @property
    def minor_version(self) -> str:
        return f"{self.major}.{self.minor}"

    def satisfies(self, pin: PythonVersion) -> bool:
        """True when this full version is exactly what ``pin`` asks for."""
        same_minor = (self.major, self.minor) == (pin.major, pin.minor)
        return same_minor and (pin.micro is None or pin.micro == self.micro)

    def same_minor(self, other: PythonVersion) -> bool:
        return (self.major, self.minor) == (other.major, other.minor)

    def __str__(self) -> str:
        if self.micro is None:
            return self.minor_version
        return f"{self.major}.{self.minor}.{self.micro}"


@dataclass(frozen=True)
class Interpreter:
    """A Python executable, its real version and where we found it."""

    path: Path
    version: PythonVersion
    source: str


@dataclass(frozen=True)
class Resolution:
    """The interpreter chosen, why, and every place that was searched on the way."""

    interpreter: Interpreter
    wanted: PythonVersion
    reason: str
    searched: Tuple[str, ...]
    warning: Optional[str] = None


@dataclass
class _Search:
    """Accumulates candidates and a readable record of where we looked."""

    environ: Mapping[str, str]
    uv: Optional[Path]
    found: List[Interpreter] = field(default_factory=list)
    searched: List[str] = field(default_factory=list)


def probe(path: Path, *, source: str) -> Optional[Interpreter]:
    """Ask ``path`` for its version; None if it is not a working Python."""
    try:
        out = processes.python_output(path, _PROBE, timeout=20)
        return Interpreter(path=path, version=PythonVersion.parse(out), source=source)
    except (CommandError, ValueError, OSError) as exc:
        LOG.debug("not a usable interpreter: %s (%s)", path, exc)
        return None


def resolve_interpreter(
    settings: Settings,
    *,
    pin: str,
    environ: Optional[Mapping[str, str]] = None,
) -> Resolution:
    """Choose the interpreter per the module docstring; ``pin`` comes from python_env.yaml.

    A process resolves each question once: later calls with the same settings, pin and search
    paths get the same answer without probing again (and the fallback warning is not repeated).
    """
    env = os.environ if environ is None else environ
    key = (
        pin,
        settings.python,
        settings.python_version,
        settings.python_strict,
        settings.python_downloads,
        settings.uv,
        settings.env_root,
        *(env.get(name) for name in _SEARCH_VARIABLES),
    )
    if key not in _RESOLVED:
        _RESOLVED[key] = _resolve(settings, pin, env)
    return _RESOLVED[key]


def _resolve(settings: Settings, pin: str, env: Mapping[str, str]) -> Resolution:
    wanted = PythonVersion.parse(settings.python_version or pin)
    if settings.python is not None:
        return _explicit(settings.python, wanted)

    search = _Search(environ=env, uv=processes.find_uv(settings.uv, env))
    _collect_uv_managed(search, wanted)
    _collect_pyenv(search, wanted)
    _collect_path(search)
    exact = _best(search.found, lambda v: v.satisfies(wanted))
    if exact is not None:
        return Resolution(exact, wanted, f"exact match for {wanted} ({exact.source})", _t(search))

    downloaded = _download(search, wanted, settings)
    if downloaded is not None:
        reason = f"downloaded {downloaded.version} with `uv python install`"
        return Resolution(downloaded, wanted, reason, _t(search))

    fallback = _best(search.found, lambda v: v.same_minor(wanted))
    if fallback is not None and not settings.python_strict:
        warning = (
            f"Python {wanted} (the pin) was not found; using Python {fallback.version} at "
            f"{fallback.path} ({fallback.source}). Environments and models will record "
            f"{fallback.version}. Set H2O_DAI_MLFLOW_PYTHON_STRICT=1 to refuse this."
        )
        LOG.warning(warning)
        reason = f"same-minor fallback: {fallback.version} for pin {wanted} ({fallback.source})"
        return Resolution(fallback, wanted, reason, _t(search), warning=warning)
    if fallback is not None:
        search.searched.append(
            f"strict mode (H2O_DAI_MLFLOW_PYTHON_STRICT=1) refused {fallback.version} "
            f"at {fallback.path}"
        )
    raise InterpreterNotFoundError(
        wanted=str(wanted), strict=settings.python_strict, searched=search.searched
    )


def _t(search: _Search) -> Tuple[str, ...]:
    return tuple(search.searched)


def _explicit(path: Path, wanted: PythonVersion) -> Resolution:
    found = probe(path, source=PYTHON.name)
    if found is None:
        raise SettingError(PYTHON.name, str(path), "a working Python executable")
    if not found.version.same_minor(wanted):
        raise SettingError(
            PYTHON.name, str(path), f"a Python {wanted.minor_version} (it is {found.version})"
        )
    reason = f"explicit interpreter from {PYTHON.name}"
    return Resolution(found, wanted, reason, (f"{PYTHON.name}={path}",))


def _best(
    candidates: List[Interpreter], accept: Callable[[PythonVersion], bool]
) -> Optional[Interpreter]:
    accepted = [c for c in candidates if accept(c.version)]
    return max(accepted, key=lambda c: c.version, default=None)


def _uv_python_dir(environ: Mapping[str, str]) -> Path:
    """Where uv keeps managed interpreters (the rule `uv python dir` follows)."""
    explicit = environ.get("UV_PYTHON_INSTALL_DIR")
    if explicit:
        return Path(explicit).expanduser()
    data_home = environ.get("XDG_DATA_HOME")
    base = (
        Path(data_home)
        if data_home
        else Path(environ.get("HOME", str(Path.home()))) / ".local" / "share"
    )
    return base / "uv" / "python"


def _add_named(
    search: _Search, python: Path, named: PythonVersion, source: str, wanted: PythonVersion
) -> str:
    """Record an interpreter a folder name says is ``named``; one of the wanted minor is asked
    for its real version (a folder name is not proof). Returns how the search shows it."""
    if not named.same_minor(wanted) or not os.access(python, os.X_OK):
        return str(named)
    found = probe(python, source=source)
    if found is None:
        return f"{named} (not runnable)"
    search.found.append(found)
    return str(named) if found.version == named else f"{named} (really {found.version})"


def _collect_uv_managed(search: _Search, wanted: PythonVersion) -> None:
    root = _uv_python_dir(search.environ)
    names = sorted(p.name for p in root.iterdir()) if root.is_dir() else []
    seen = []
    for name in names:
        parts = name.split("-")
        if len(parts) < 2 or parts[0] != "cpython":
            continue
        try:
            version = PythonVersion.parse(parts[1])
        except ValueError:
            continue
        python = root / name / "bin" / f"python{version.minor_version}"
        if python.exists():
            seen.append(_add_named(search, python, version, "uv-managed", wanted))
    search.searched.append(f"uv-managed interpreters in {root}: {', '.join(seen) or 'none'}")


def _pyenv_root(environ: Mapping[str, str]) -> Path:
    root = environ.get("PYENV_ROOT")
    if root:
        return Path(root)
    return Path(environ.get("HOME", str(Path.home()))) / ".pyenv"


def _collect_pyenv(search: _Search, wanted: PythonVersion) -> None:
    versions_dir = _pyenv_root(search.environ) / "versions"
    names = sorted(p.name for p in versions_dir.iterdir()) if versions_dir.is_dir() else []
    seen = []
    for name in names:
        try:
            version = PythonVersion.parse(name)
        except ValueError:
            continue
        if str(version) != name:
            continue
        python = versions_dir / name / "bin" / f"python{version.minor_version}"
        if python.exists():
            seen.append(_add_named(search, python, version, "pyenv", wanted))
    search.searched.append(f"pyenv versions in {versions_dir}: {', '.join(seen) or 'none'}")


def _path_candidates(search: _Search) -> Iterator[Path]:
    shims = _pyenv_root(search.environ) / "shims"
    for folder in search.environ.get("PATH", "").split(os.pathsep):
        if not folder or Path(folder) == shims:
            continue
        for name in ("python3.8", "python3", "python"):
            candidate = Path(folder) / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                yield candidate


def _collect_path(search: _Search) -> None:
    known = {c.path.resolve() for c in search.found}
    seen: Dict[Path, str] = {}
    for candidate in _path_candidates(search):
        real = candidate.resolve()
        if real in known or real in seen:
            continue
        found = probe(candidate, source="PATH")
        seen[real] = str(found.version) if found else "not runnable"
        if found is not None:
            search.found.append(found)
    shown = ", ".join(f"{path} ({version})" for path, version in seen.items())
    search.searched.append(f"PATH (python3.8, python3, python): {shown or 'none'}")


def _download_memo(settings: Settings) -> Path:
    return settings.env_root / _DOWNLOAD_MEMO


def _recent_failure(settings: Settings, wanted: PythonVersion) -> Optional[float]:
    try:
        memo = json.loads(_download_memo(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    failed_at = memo.get(str(wanted)) if isinstance(memo, dict) else None
    if isinstance(failed_at, (int, float)) and time.time() - failed_at < _DOWNLOAD_RETRY_SECONDS:
        return float(failed_at)
    return None


def _remember_failure(settings: Settings, wanted: PythonVersion) -> None:
    memo_path = _download_memo(settings)
    try:
        memo_path.parent.mkdir(parents=True, exist_ok=True)
        memo_path.write_text(json.dumps({str(wanted): time.time()}), encoding="utf-8")
    except OSError as exc:
        LOG.debug("could not remember the failed download in %s: %s", memo_path, exc)


def _download(search: _Search, wanted: PythonVersion, settings: Settings) -> Optional[Interpreter]:
    label = f"uv python install {wanted}"
    if settings.python_downloads is PythonDownloads.NEVER:
        search.searched.append(f"{label}: skipped (H2O_DAI_MLFLOW_PYTHON_DOWNLOADS=never)")
        return None
    if search.uv is None:
        search.searched.append(f"{label}: skipped (uv not found)")
        return None
    failed_at = _recent_failure(settings, wanted)
    if failed_at is not None:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(failed_at))
        search.searched.append(f"{label}: skipped (failed at {when}; retried after a day)")
        return None
    LOG.info("Python %s not found locally; trying `%s`", wanted, label)
    env = processes.child_environment(base=search.environ)
    try:
        processes.run([search.uv, "python", "install", str(wanted)], env=env, timeout=600)
        found = processes.run(
            [search.uv, "python", "find", "--python-preference", "only-managed", str(wanted)],
            env=env,
            timeout=60,
        ).stdout.strip()
    except CommandError as exc:
        _remember_failure(settings, wanted)
        last = exc.output_tail.splitlines()[-1] if exc.output_tail else f"exit {exc.returncode}"
        search.searched.append(f"{label}: failed ({last})")
        return None
    interpreter = probe(Path(found), source="uv python install")
    search.searched.append(f"{label}: installed {found}")
    return interpreter
