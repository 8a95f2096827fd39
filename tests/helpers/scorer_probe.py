"""Runs inside a sample's Python 3.8 scoring environment and reports the scorer's behaviour.

    python scorer_probe.py --pipeline DIR --shims DIR [--apply-shims [--skip FIX]...]
                           [--break-fileno] [--drop-rlim] [--input CSV]

Host breakage (--break-fileno, --drop-rlim) is simulated first, then the shims are applied when
asked, then the scorer is imported. Prints one JSON object; on failure {"error", "message"} and
exit code 3.
"""

import argparse
import importlib
import json
import sys


class StreamToLogger:
    """What hosted runtimes put in place of sys.stdout: write() and flush(), no fileno()."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        return self._stream.write(text)

    def flush(self):
        self._stream.flush()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipeline", required=True)
    parser.add_argument("--shims", required=True)
    parser.add_argument("--apply-shims", action="store_true")
    parser.add_argument("--skip", action="append", default=[], help="a shim function to leave out")
    parser.add_argument("--break-fileno", action="store_true")
    parser.add_argument("--drop-rlim", action="store_true")
    parser.add_argument("--input")
    args = parser.parse_args()
    real_stdout = sys.stdout
    if args.break_fileno:
        sys.stdout = StreamToLogger(sys.stdout)
    if args.drop_rlim:
        import psutil

        del psutil.RLIM_INFINITY
    sys.path.insert(0, args.shims)
    if args.apply_shims:
        shims = importlib.import_module("h2o_dai_shims")
        for fix in shims.FIXES:
            if fix.__name__ not in args.skip:
                fix()
    try:
        report = run(args)
    except Exception as exc:  # the probe reports any failure to the test
        real_stdout.write(json.dumps({"error": type(exc).__name__, "message": str(exc)}) + "\n")
        return 3
    real_stdout.write(json.dumps(report) + "\n")
    return 0


def run(args):
    import pandas as pd

    from h2o_dai_py_scoring_mlflow.export.reading import example_columns, open_pipeline_folder

    pipeline = open_pipeline_folder(__import__("pathlib").Path(args.pipeline))
    scorer = importlib.import_module(pipeline.scorer_module).Scorer()
    columns = example_columns(pipeline.example_py)
    frame = pd.concat([pd.Series(v, name=n, dtype=d) for n, d, v in columns], axis=1)
    report = {
        "column_names": list(scorer.get_column_names()),
        "column_names_type": type(scorer.get_column_names()).__name__,
        "labels": scorer.get_target_labels(),
        "transformed": scorer.get_transformed_column_names(),
        "pred_columns": scorer.get_pred_columns(),
    }
    first = scorer.score_batch(frame)
    second = scorer.score_batch(frame.sample(frac=1.0, random_state=3).sort_index())
    report["columns"] = list(first.columns)
    report["predictions"] = first.values.tolist()
    report["deterministic"] = first.equals(second)
    report["row"] = scorer.score(list(frame.iloc[0]))
    margins = scorer.score_batch(frame, output_margin=True)
    report["margins"] = margins.values.tolist()
    for name, original in (("contribs", False), ("contribs_original", True)):
        contribs = scorer.score_batch(frame, pred_contribs=True, pred_contribs_original=original)
        report[name + "_columns"] = list(contribs.columns)
        report[name] = contribs.values.tolist()
    try:
        scorer.score_batch(frame, output_margin=True, pred_contribs=True)
        report["both_flags"] = "accepted"
    except ValueError as exc:
        report["both_flags"] = str(exc)
    target = scorer._model["target"]
    with_target = frame.copy()
    if target not in with_target.columns:
        with_target[target] = None
    munged = scorer.fit_transform_batch(
        with_target, with_target, with_target, apply_data_recipes=False
    )
    report["fit_transform_columns"] = list(munged[0].columns)
    if args.input:
        holdout = pd.read_csv(args.input, dtype=object)
        report["holdout"] = scorer.score_batch(holdout).values.tolist()
    scorer.finish()
    return report


if __name__ == "__main__":
    sys.exit(main())
