"""Score rows with an export's own Scorer; runs inside the Python 3.8 environment.

``python -m h2o_dai_py_scoring_mlflow.example_scoring --pipeline DIR --shims DIR [--frame F]``
applies the runtime shims first (as every model loader does), scores example.py's rows (or the
JSON ``{"columns": [...], "data": [...]}`` frame in F), then prints one JSON object: the input
columns, the prediction columns and one list of values per row.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import List, Optional

from .pipeline import example_frame, open_pipeline_folder


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="example_scoring")
    parser.add_argument("--pipeline", type=Path, required=True)
    parser.add_argument("--shims", type=Path, required=True)
    parser.add_argument("--frame", type=Path, help="JSON split frame to score")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(args.shims))
    shims = importlib.import_module("h2o_dai_shims")
    shims.apply()

    import pandas as pd  # noqa: PLC0415  # only after the shims, like every model loader

    pipeline = open_pipeline_folder(args.pipeline)
    if args.frame is not None:
        split = json.loads(args.frame.read_text(encoding="utf-8"))
        frame = pd.DataFrame(split["data"], columns=split["columns"])
    else:
        frame = example_frame(pipeline.example_py)
    scorer = importlib.import_module(pipeline.scorer_module).Scorer()
    try:
        result = scorer.score_batch(frame)
    finally:
        scorer.finish()
    json.dump(
        {
            "inputs": list(frame.columns),
            "columns": [str(c) for c in result.columns],
            "rows": result.to_numpy().tolist(),
            "shims": shims.applied(),
        },
        sys.stdout,
    )
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
