"""Build (or reuse) one environment from the command line; print {"path", "created"} as JSON.

python build_env.py PYTHON VERSION REQUIREMENT...
"""

import json
import sys
from pathlib import Path

from h2o_dai_py_scoring_mlflow.runtime.environments import EnvironmentSpec, ensure_environment
from h2o_dai_py_scoring_mlflow.runtime.interpreters import Interpreter, PythonVersion
from h2o_dai_py_scoring_mlflow.settings import load_settings


def main() -> int:
    python, version, *requirements = sys.argv[1:]
    interpreter = Interpreter(Path(python), PythonVersion.parse(version), "test")
    spec = EnvironmentSpec(interpreter, tuple(requirements), label="test")
    env = ensure_environment(spec, load_settings())
    print(json.dumps({"path": str(env.path), "created": env.created}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
