"""Score one frame with an export's own Scorer; the inside half of :mod:`.scorer`.

Runs in the export's scorer environment (Python 3.8 with the DAI wheels), so it imports only the
standard library and pandas:

``python -m h2o_dai_py_scoring_mlflow.runtime.frame_scoring --scorer-module M --shims DIR
--frame F``

applies the runtime shims first (as every model loader does), scores the JSON
``{"columns": [...], "data": [...]}`` frame in F, then prints one JSON object: the input columns,
the prediction columns and one list of values per row.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="frame_scoring")
    parser.add_argument("--scorer-module", required=True)
    parser.add_argument("--shims", type=Path, required=True)
    parser.add_argument("--frame", type=Path, required=True, help="JSON split frame to score")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(args.shims))
    shims = importlib.import_module("h2o_dai_shims")
    shims.apply()

    import pandas as pd  # noqa: PLC0415  # only after the shims, like every model loader

    split = json.loads(args.frame.read_text(encoding="utf-8"))
    frame = pd.DataFrame(split["data"], columns=split["columns"])
    scorer = importlib.import_module(args.scorer_module).Scorer()
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
