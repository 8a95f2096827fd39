"""Load a logged model with MLflow 2.17 (inside its rehearsal env) and exercise the wrapper.

python pyfunc_probe.py MODEL_DIR
"""

import json
import sys

import mlflow.pyfunc
from mlflow.models import Model


def main():
    model = mlflow.pyfunc.load_model(sys.argv[1])
    example = Model.load(sys.argv[1]).load_input_example(sys.argv[1])
    shuffled = example[list(reversed(example.columns))]
    report = {
        "frame": model.predict(example).values.tolist(),
        "reordered": model.predict(shuffled).values.tolist(),
        "records": model.predict(example.to_dict(orient="records")).values.tolist(),
        "contribs_columns": list(model.predict(example, params={"pred_contribs": True}).columns),
        "margin": model.predict(example, params={"output_margin": True}).values.tolist(),
    }
    raw = model.unwrap_python_model()
    report["split"] = raw.predict(
        None, {"columns": list(example.columns), "data": example.values.tolist()}
    ).values.tolist()
    try:
        raw.predict(None, example.drop(columns=[example.columns[2]]))
        report["missing"] = "accepted"
    except Exception as exc:  # the probe reports any error text to the test
        report["missing"] = str(exc)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
