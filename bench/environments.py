"""Benchmark: resolving a cached environment, and building one, against MLflow's own manager.

    uv run python bench/environments.py [--kind binary]

1. Cached resolution: interpreter lookup + requirements + cache hit for a sample export, median of
   10 calls (target: under 1 s).
2. Building a new environment with a warm package cache: our uv builder against MLflow's
   `virtualenv` environment manager (pyenv + venv + pip, via `mlflow.projects.run`) installing the
   same dependency list with the same interpreter, each measured in this run after a warm-up
   (expected: uv several times faster).
Prints ratios against the baselines measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, Tuple

import mlflow
import mlflow.projects
import yaml

from h2o_dai_py_scoring_mlflow.export.requirements import export_requirements
from h2o_dai_py_scoring_mlflow.runtime.environments import EnvironmentSpec, ensure_environment
from h2o_dai_py_scoring_mlflow.runtime.project import project_python_env
from h2o_dai_py_scoring_mlflow.runtime.scorer import COMPATIBILITY_PINS, scoring_environment
from h2o_dai_py_scoring_mlflow.samples import build_sample
from h2o_dai_py_scoring_mlflow.settings import load_settings


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _mlflow_project(folder: Path, python: str, requirements: Tuple[str, ...]) -> Path:
    folder.mkdir(parents=True)
    spec = project_python_env()
    (folder / "python_env.yaml").write_text(
        yaml.safe_dump(
            {
                "python": python,
                "build_dependencies": list(spec.build_dependencies),
                "dependencies": list(requirements),
            }
        )
    )
    (folder / "MLproject").write_text(
        "name: bench\npython_env: python_env.yaml\n"
        "entry_points:\n  main:\n    command: python -c 'import pandas, h2oaicore'\n"
    )
    return folder


def _mlflow_build(project: Path, env_root: Path) -> None:
    os.environ["MLFLOW_ENV_ROOT"] = str(env_root)
    mlflow.projects.run(
        str(project), entry_point="main", env_manager="virtualenv", synchronous=True
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", default="binary")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="dai-mlflow-bench-"))
    os.chdir(scratch)
    mlflow.set_tracking_uri(f"sqlite:///{scratch / 'mlflow.db'}")
    sample = build_sample(args.kind, scratch / "sample", rows=1000)
    base: Dict[str, str] = {"H2O_DAI_MLFLOW_PYTHON_DOWNLOADS": "never"}

    settings = load_settings({**base, "MLFLOW_ENV_ROOT": str(scratch / "cached")})
    scoring = scoring_environment(settings, sample.pipeline)
    cached = [_timed(lambda: scoring_environment(settings, sample.pipeline)) for _ in range(10)]
    resolve_s = statistics.median(cached)
    print(f"cached environment resolution: median {resolve_s * 1000:.0f} ms over 10 calls")
    print(f"  ratio to the 1 s target: {resolve_s / 1.0:.3f} (pass: {resolve_s < 1.0})")

    interpreter = scoring.resolution.interpreter
    requirements = export_requirements(sample.pipeline).install + COMPATIBILITY_PINS
    spec = EnvironmentSpec(interpreter, requirements, project_python_env().build_dependencies)
    project = _mlflow_project(scratch / "project", str(interpreter.version), requirements)

    _mlflow_build(project, scratch / "mlflow-warm")
    ours_s = _timed(
        lambda: ensure_environment(
            spec, load_settings({**base, "MLFLOW_ENV_ROOT": str(scratch / "ours")})
        )
    )
    mlflow_s = _timed(lambda: _mlflow_build(project, scratch / "mlflow-timed"))
    print(
        f"new environment, warm package cache, Python {interpreter.version}, "
        f"{len(requirements)} requirements:"
    )
    print(f"  dai-mlflow (uv):                 {ours_s:6.1f} s")
    print(
        f"  MLflow virtualenv manager (pip): {mlflow_s:6.1f} s  "
        "(includes running a no-op entry point)"
    )
    print(f"  speed-up: {mlflow_s / ours_s:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
