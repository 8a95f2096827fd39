"""Build and cache Python environments, transactionally.

An environment is defined by the interpreter's full version and the full dependency list
(including the bytes of any local wheel and, optionally, this package's own sources). It lives
under one root (``MLFLOW_ENV_ROOT``) in a folder named after a hash of that definition. It is
built in a temporary folder beside its final place and renamed into place only when complete,
under a file lock, so concurrent callers build it once and a build that dies half-way leaves
nothing that looks usable. uv builds it (``uv venv --seed --relocatable``, ``uv pip install``);
``venv`` + pip is the fallback when uv is absent.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

from ..errors import CommandError, DaiMlflowError, EnvironmentBuildError
from ..settings import EnvBuilder, Settings
from . import processes
from .interpreters import Interpreter
from .project import PACKAGE_DIR, PROJECT_FILES, PROJECT_FOLDER, project_dir

LOG = logging.getLogger(__name__)

MARKER = ".dai-mlflow-env.json"
_PREFIX = "dai-mlflow-"
_TMP_PREFIX = ".tmp-"
_STAGING = re.compile(r"^\.tmp-(dai-mlflow-[a-z]+-[0-9a-f]{20})-")
_TOOL_PACKAGE = PACKAGE_DIR.name


@dataclass(frozen=True)
class EnvironmentSpec:
    """What defines an environment: interpreter, requirements and whether it carries this tool."""

    interpreter: Interpreter
    requirements: Tuple[str, ...]
    build_requirements: Tuple[str, ...] = ()
    include_tool: bool = False
    label: str = "env"

    def key(self) -> str:
        """A hash of everything that makes two environments the same."""
        digest = hashlib.sha256()
        digest.update(f"python={self.interpreter.version}\n".encode())
        for line in self.build_requirements:
            digest.update(f"build={line}\n".encode())
        for line in self.requirements:
            local = Path(line)
            if line.endswith(".whl") and local.is_file():
                # A local wheel counts by name and bytes, not by where it happens to lie.
                digest.update(f"wheel={local.name}:{_file_digest(local)}\n".encode())
            else:
                digest.update(f"req={line}\n".encode())
        if self.include_tool:
            digest.update(f"tool={_tool_digest()}\n".encode())
        return digest.hexdigest()

    def folder_name(self) -> str:
        return f"{_PREFIX}{self.label}-{self.key()[:20]}"


@dataclass(frozen=True)
class PythonEnvironment:
    """A complete environment on disk."""

    path: Path
    created: bool

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _tool_digest() -> str:
    digest = hashlib.sha256()
    # Sorted by name: a checkout and an installed copy list the same files in different orders.
    for relative, path in sorted(_tool_files()):
        digest.update(relative.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _files_under(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            yield path


def _tool_files() -> Iterator[Tuple[str, Path]]:
    """This package as installed into an environment: its sources, plus the MLflow Project
    under ``_project/`` (already there in a wheel install; taken from the checkout otherwise)."""
    for path in _files_under(PACKAGE_DIR):
        yield str(path.relative_to(PACKAGE_DIR)), path
    if (PACKAGE_DIR / PROJECT_FOLDER).is_dir():
        return
    project = project_dir()
    for name in PROJECT_FILES:
        source = project / name
        paths = _files_under(source) if source.is_dir() else [source]
        for path in paths:
            yield f"{PROJECT_FOLDER}/{path.relative_to(project)}", path


class UntrustedCacheError(DaiMlflowError):
    """A folder of the environment cache could have been changed by someone else."""


def _check_trusted(path: Path) -> None:
    """``path`` is what this user made: not a symbolic link, owned by this user, writable by no
    one else (group write only for this user's own group, as a 002 umask gives)."""
    info = path.lstat()
    tip = (
        f"Remove {path} (it is rebuilt when needed), or point MLFLOW_ENV_ROOT to a folder only "
        "you can write."
    )
    if stat.S_ISLNK(info.st_mode):
        raise UntrustedCacheError(f"{path} in the environment cache is a symbolic link.", tip=tip)
    if info.st_uid != os.geteuid():
        raise UntrustedCacheError(
            f"{path} in the environment cache belongs to user id {info.st_uid}, not to you "
            f"({os.geteuid()}): its Python will not be run.",
            tip=tip,
        )
    foreign_group = bool(info.st_mode & stat.S_IWGRP) and info.st_gid != os.getegid()
    if info.st_mode & stat.S_IWOTH or foreign_group:
        raise UntrustedCacheError(
            f"{path} in the environment cache is writable by others "
            f"(mode {stat.filemode(info.st_mode)}): its Python will not be run.",
            tip=f"chmod go-w {path}, or: {tip}",
        )


def find_environment(spec: EnvironmentSpec, settings: Settings) -> Optional[PythonEnvironment]:
    """The cached environment for ``spec`` if it is complete, else None (no locking, no build).
    An entry, or the cache root, that someone else could have changed is refused."""
    target = settings.env_root / spec.folder_name()
    if not (target.exists() or target.is_symlink()):
        return None
    for path in (settings.env_root, target, target / "bin", target / MARKER):
        if path.exists() or path.is_symlink():
            _check_trusted(path)
    return PythonEnvironment(target, created=False) if _is_complete(target, spec) else None


def ensure_environment(
    spec: EnvironmentSpec, settings: Settings, *, echo: bool = False
) -> PythonEnvironment:
    """Return the environment for ``spec``, building it first if no complete one exists."""
    cached = find_environment(spec, settings)
    if cached is not None:
        return cached
    root = settings.env_root
    target = root / spec.folder_name()
    sweep_abandoned_builds(root)
    with _locked(root, target.name):
        if _is_complete(target, spec):
            return PythonEnvironment(target, created=False)
        _remove_leftovers(root, target)
        _build(spec, settings, target, echo=echo)
    return PythonEnvironment(target, created=True)


def _is_complete(target: Path, spec: EnvironmentSpec) -> bool:
    try:
        marker = json.loads((target / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(marker.get("key") == spec.key() and (target / "bin" / "python").exists())


def sweep_abandoned_builds(root: Path) -> List[Path]:
    """Remove the staging folders of builds whose builder is gone (its lock is free)."""
    removed: List[Path] = []
    targets = {m.group(1) for m in map(_STAGING.match, (p.name for p in root.glob(".tmp-*"))) if m}
    for name in sorted(targets):
        with _try_locked(root, name) as acquired:
            if not acquired:
                continue
            for stale in root.glob(f"{_TMP_PREFIX}{name}-*"):
                LOG.info("Removing an abandoned build: %s", stale)
                shutil.rmtree(stale, ignore_errors=True)
                removed.append(stale)
    return removed


@contextlib.contextmanager
def _try_locked(root: Path, name: str) -> Iterator[bool]:
    """Hold the build lock of ``name`` if nobody else does; yield whether we got it."""
    locks = root / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with (locks / f"{name}.lock").open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def _locked(root: Path, name: str) -> Iterator[None]:
    locks = root / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with (locks / f"{name}.lock").open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            LOG.info("Waiting for another process that is building %s ...", name)
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _remove_leftovers(root: Path, target: Path) -> None:
    """Under the lock: drop half-built temporaries and any incomplete target of earlier runs."""
    for stale in root.glob(f"{_TMP_PREFIX}{target.name}-*"):
        LOG.info("Removing an interrupted build: %s", stale)
        shutil.rmtree(stale, ignore_errors=False)
    if target.exists():
        LOG.info("Replacing an incomplete environment: %s", target)
        shutil.rmtree(target)


def _build(spec: EnvironmentSpec, settings: Settings, target: Path, *, echo: bool) -> None:
    uv = processes.find_uv(settings.uv)
    use_uv = settings.env_builder is EnvBuilder.UV or (
        settings.env_builder is EnvBuilder.AUTO and uv is not None
    )
    if use_uv and uv is None:
        raise EnvironmentBuildError(target, "H2O_DAI_MLFLOW_ENV_BUILDER=uv but uv was not found")
    builder = "uv" if use_uv else "venv+pip"
    staging = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{target.name}-", dir=target.parent))
    LOG.info(
        "Building Python %s environment %s with %s (%d requirements) ...",
        spec.interpreter.version,
        target.name,
        builder,
        len(spec.requirements),
    )
    started = time.monotonic()
    try:
        requirements_file = staging / "dai-mlflow-requirements.txt"
        requirements_file.write_text("\n".join(spec.requirements) + "\n", encoding="utf-8")
        if uv is not None and use_uv:
            _build_with_uv(uv, spec, staging, requirements_file, echo=echo)
        else:
            _build_with_pip(spec, staging, requirements_file, echo=echo)
        if spec.include_tool:
            _copy_tool(staging, spec)
        _retarget_scripts(staging, target)
        _write_marker(staging, spec, builder)
        staging.rename(target)
    except CommandError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise EnvironmentBuildError(target, exc.message) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    LOG.info("Built %s in %.1f s", target.name, time.monotonic() - started)


def _build_with_uv(
    uv: Path, spec: EnvironmentSpec, staging: Path, requirements: Path, *, echo: bool
) -> None:
    env = processes.child_environment()
    python = staging / "bin" / "python"
    # Byte-compiled as pip would: every later start imports MLflow and pandas from .pyc files,
    # also where PYTHONDONTWRITEBYTECODE is set or the environment is read-only.
    install: List[processes.Arg] = [uv, "pip", "install", "--compile-bytecode", "--python", python]
    processes.run(
        [
            uv,
            "venv",
            "--seed",
            "--relocatable",
            "--allow-existing",
            "--python",
            spec.interpreter.path,
            staging,
        ],
        env=env,
        echo=echo,
    )
    if spec.build_requirements:
        processes.run([*install, *spec.build_requirements], env=env, echo=echo)
    processes.run([*install, "-r", requirements], env=env, echo=echo)


def _build_with_pip(
    spec: EnvironmentSpec, staging: Path, requirements: Path, *, echo: bool
) -> None:
    env = processes.child_environment()
    python = staging / "bin" / "python"
    processes.run([spec.interpreter.path, "-m", "venv", staging], env=env, echo=echo)
    pip: List[processes.Arg] = [python, "-m", "pip", "install", "--disable-pip-version-check"]
    if spec.build_requirements:
        processes.run([*pip, *spec.build_requirements], env=env, echo=echo)
    processes.run([*pip, "-r", requirements], env=env, echo=echo)


def _site_packages(env_dir: Path, spec: EnvironmentSpec) -> Path:
    return env_dir / "lib" / f"python{spec.interpreter.version.minor_version}" / "site-packages"


def _copy_tool(staging: Path, spec: EnvironmentSpec) -> None:
    """Install this package's pure-Python sources into the environment (no build step)."""
    destination = _site_packages(staging, spec) / _TOOL_PACKAGE
    for relative, path in _tool_files():
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def _write_marker(staging: Path, spec: EnvironmentSpec, builder: str) -> None:
    marker = {
        "key": spec.key(),
        "python": str(spec.interpreter.version),
        "interpreter": str(spec.interpreter.path),
        "builder": builder,
        "requirements": list(spec.requirements),
        "build_requirements": list(spec.build_requirements),
        "include_tool": spec.include_tool,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (staging / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")


def _retarget_scripts(staging: Path, target: Path) -> None:
    """Point scripts that name the staging folder (venv + pip builds) at the final folder."""
    old, new = str(staging).encode(), str(target).encode()
    for script in (staging / "bin").iterdir():
        if script.is_symlink() or not script.is_file():
            continue
        content = script.read_bytes()
        if old in content[:4096]:
            script.write_bytes(content.replace(old, new))


def read_marker(env: PythonEnvironment) -> dict[str, object]:
    """The record written when ``env`` was built (interpreter, builder, requirements)."""
    data = json.loads((env.path / MARKER).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{env.path / MARKER} is not a JSON object")
    return data
