"""The MLflow Project this package carries: where it is and what its python_env.yaml pins.

In a checkout the project is the repository root; in an installed wheel it is the package's
``_project`` folder (pyproject.toml force-includes MLproject, python_env.yaml, entrypoints/ and
shims/ there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Tuple

import yaml

from ..errors import ProjectSpecError

# This file is <package>/runtime/project.py.
PACKAGE_DIR = Path(__file__).resolve().parent.parent
PROJECT_FOLDER = "_project"
# What pyproject.toml force-includes into the wheel under PROJECT_FOLDER.
PROJECT_FILES = ("MLproject", "python_env.yaml", "entrypoints", "shims")
_VERSION = re.compile(r"^3\.\d+(\.\d+)?$")


@dataclass(frozen=True)
class PythonEnvSpec:
    """The contents of a python_env.yaml."""

    path: Path
    python: str
    build_dependencies: Tuple[str, ...]
    dependencies: Tuple[str, ...]


def project_dir() -> Path:
    """The folder holding MLproject, python_env.yaml, entrypoints/ and shims/."""
    for candidate in (PACKAGE_DIR / PROJECT_FOLDER, PACKAGE_DIR.parent.parent):
        if (candidate / "MLproject").is_file():
            return candidate
    raise ProjectSpecError(
        PACKAGE_DIR / PROJECT_FOLDER / "MLproject",
        "the MLflow Project files are missing from this installation",
        tip="Reinstall h2o-dai-py-scoring-mlflow from its wheel, or run from a checkout.",
    )


def shims_dir() -> Path:
    """The shims/ folder that is copied into every logged model."""
    return project_dir() / "shims"


def read_python_env(path: Path) -> PythonEnvSpec:
    """Parse and check a python_env.yaml; raise :class:`ProjectSpecError` on any defect."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProjectSpecError(path, "file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ProjectSpecError(path, f"not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise ProjectSpecError(path, "expected a mapping with `python` and `dependencies`")
    python = data.get("python")
    if not isinstance(python, str) or not _VERSION.match(python.strip()):
        raise ProjectSpecError(
            path, f"`python` must be a quoted version string such as '3.8.12', got {python!r}"
        )
    return PythonEnvSpec(
        path=path,
        python=python.strip(),
        build_dependencies=_requirement_list(path, data, "build_dependencies"),
        dependencies=_requirement_list(path, data, "dependencies"),
    )


def _requirement_list(path: Path, data: dict[str, object], key: str) -> Tuple[str, ...]:
    raw = data.get(key, [])
    if raw is None:
        raw = []
    if not isinstance(raw, list) or not all(isinstance(i, str) and i.strip() for i in raw):
        raise ProjectSpecError(path, f"`{key}` must be a list of requirement strings")
    items: List[str] = [i.strip() for i in raw]
    return tuple(items)


def project_python_env() -> PythonEnvSpec:
    """The python_env.yaml of the packaged MLflow Project."""
    return read_python_env(project_dir() / "python_env.yaml")
