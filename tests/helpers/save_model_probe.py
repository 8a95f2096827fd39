"""Save (not log) the pyfunc model of an export inside the Project's Python 3.8 env and print
its generated files as JSON. Settings come from the environment, as in production.

    python save_model_probe.py EXPORT TARGET
"""

import json
import sys
from pathlib import Path

from h2o_dai_py_scoring_mlflow.export.reading import open_export
from h2o_dai_py_scoring_mlflow.model.packaging import save_model
from h2o_dai_py_scoring_mlflow.settings import load_settings


def main():
    export, target = sys.argv[1], Path(sys.argv[2])
    with open_export(export) as pipeline:
        outputs = save_model(pipeline, target, settings=load_settings(), source=Path(export).name)
    files = {
        name: (target / name).read_text()
        for name in ("requirements.txt", "python_env.yaml", "conda.yaml", "MLmodel")
    }
    files["outputs"] = outputs
    files["code"] = sorted(p.name for p in (target / "code").iterdir())
    files["artifacts"] = sorted(
        p.name for p in (target / "artifacts" / "scoring-pipeline").iterdir()
    )
    print(json.dumps(files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
