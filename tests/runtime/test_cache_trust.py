"""A poisoned environment cache entry (the right name, a copied marker, a fake bin/python) is
refused unless this user made it and no one else can write it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from h2o_dai_py_scoring_mlflow.runtime.environments import (
    MARKER,
    EnvironmentSpec,
    UntrustedCacheError,
    find_environment,
)
from h2o_dai_py_scoring_mlflow.runtime.interpreters import Interpreter
from h2o_dai_py_scoring_mlflow.settings import load_settings


def _planted(root: Path, spec: EnvironmentSpec) -> Path:
    """An entry that looks complete: marker with the right key, an executable bin/python."""
    target = root / spec.folder_name()
    (target / "bin").mkdir(parents=True)
    (target / MARKER).write_text(json.dumps({"key": spec.key()}))
    python = target / "bin" / "python"
    python.write_text("#!/bin/sh\necho owned\n")
    python.chmod(0o755)
    return target


@pytest.fixture
def spec(python38: Interpreter) -> EnvironmentSpec:
    return EnvironmentSpec(python38, ("tabulate==0.9.0",), label="trust")


def test_an_entry_only_this_user_can_write_is_used(spec: EnvironmentSpec, tmp_path: Path) -> None:
    root = tmp_path / "envs"
    root.mkdir(mode=0o755)
    target = _planted(root, spec)
    target.chmod(0o755)
    found = find_environment(spec, load_settings({"MLFLOW_ENV_ROOT": str(root)}))
    assert found is not None and found.path == target


@pytest.mark.parametrize("where", ["entry", "root", "bin"])
def test_an_entry_others_can_write_is_refused(
    spec: EnvironmentSpec, tmp_path: Path, where: str
) -> None:
    root = tmp_path / "envs"
    root.mkdir(mode=0o755)
    target = _planted(root, spec)
    loose = {"entry": target, "root": root, "bin": target / "bin"}[where]
    loose.chmod(0o777)
    with pytest.raises(UntrustedCacheError, match="writable by others") as raised:
        find_environment(spec, load_settings({"MLFLOW_ENV_ROOT": str(root)}))
    assert f"chmod go-w {loose}" in (raised.value.tip or "")


def test_a_symbolic_link_entry_is_refused(spec: EnvironmentSpec, tmp_path: Path) -> None:
    root = tmp_path / "envs"
    root.mkdir(mode=0o755)
    elsewhere = _planted(tmp_path / "elsewhere", spec)
    (root / spec.folder_name()).symlink_to(elsewhere)
    with pytest.raises(UntrustedCacheError, match="symbolic link"):
        find_environment(spec, load_settings({"MLFLOW_ENV_ROOT": str(root)}))


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_an_entry_owned_by_another_user_is_refused(spec: EnvironmentSpec, tmp_path: Path) -> None:
    root = tmp_path / "envs"
    root.mkdir(mode=0o755)
    target = _planted(root, spec)
    os.chown(target, 65534, 65534)
    with pytest.raises(UntrustedCacheError, match="belongs to user id 65534"):
        find_environment(spec, load_settings({"MLFLOW_ENV_ROOT": str(root)}))
