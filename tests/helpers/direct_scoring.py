"""Runs inside a sample's Python 3.8 scoring environment: the scorer called directly.

    python direct_scoring.py --pipeline DIR --shims DIR --input CSV --columns JSON --output NPY

Reads the whole CSV with pandas' defaults, keeps the model's columns, calls ``score_batch`` once
and saves the predictions with ``numpy.save`` (exact values); prints the prediction columns.
"""

import argparse
import glob
import importlib
import json
import os
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipeline", required=True)
    parser.add_argument("--shims", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--columns", required=True)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    sys.path.insert(0, args.shims)
    importlib.import_module("h2o_dai_shims").apply()
    import numpy as np
    import pandas as pd

    wheel = glob.glob(os.path.join(args.pipeline, "scoring_h2oai_experiment_*.whl"))[0]
    scorer = importlib.import_module(os.path.basename(wheel).split("-")[0]).Scorer()
    frame = pd.read_csv(args.input, encoding="utf-8-sig")[json.loads(args.columns)]
    result = scorer.score_batch(frame)
    np.save(args.output, result.to_numpy(dtype="float64"))
    print(json.dumps([str(c) for c in result.columns]))


if __name__ == "__main__":
    main()
