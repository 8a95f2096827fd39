"""The clean-environment rehearsal: MLflow 2.17's own ``mlflow models predict`` in the
environment built from nothing but the model's files (:mod:`..model.environment`): what Serving
will do, on a laptop.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from ..runtime import processes
from ..runtime.environments import PythonEnvironment
from ..scratch import scratch_dir


def predict_with_mlflow(
    env: PythonEnvironment,
    model_dir: Path,
    split: Dict[str, Any],
    *,
    extra_env: Optional[Mapping[str, str]] = None,
) -> List[Dict[str, Any]]:
    """``mlflow models predict --env-manager local`` from ``env``; the predictions as records."""
    with scratch_dir("predict") as scratch:
        source, target = scratch / "input.json", scratch / "output.json"
        source.write_text(json.dumps({"dataframe_split": split}), encoding="utf-8")
        argv: List[processes.Arg] = [
            env.python, "-m", "mlflow", "models", "predict", "-m", model_dir,
            "-i", source, "-t", "json", "-o", target, "--env-manager", "local",
        ]  # fmt: skip
        processes.run(argv, env=processes.child_environment(extra_env), cwd=scratch)
        output = json.loads(target.read_text(encoding="utf-8"))
    predictions: List[Dict[str, Any]] = output["predictions"]
    return predictions
