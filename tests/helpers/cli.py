"""Run the `dai-mlflow` CLI the way a user does: a child process with a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional


def cli_env(env_root: Path, **extra: str) -> Dict[str, str]:
    """This process's environment without MLflow / license variables, plus test settings."""
    variables = {
        k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DRIVERLESS_AI_"))
    }
    variables.update(
        {
            "MLFLOW_ENV_ROOT": str(env_root),
            "H2O_DAI_MLFLOW_PYTHON_DOWNLOADS": "never",
            "H2O_DAI_MLFLOW_PYSPARK_VERSION": "none",
        }
    )
    variables.update(extra)
    return variables


def dai_mlflow(
    args: List[str], cwd: Optional[Path], env: Dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "h2o_dai_py_scoring_mlflow.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
