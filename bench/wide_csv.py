"""Benchmark: `dai-mlflow score` on a CSV with many columns the model does not use.

    uv run python bench/wide_csv.py [--rows 10] [--unused 100000,1000000] [--repeats 2]

A synthetic binary export scores --rows rows twice: the baseline is a CSV holding only the
model's columns (plus an `id`); the candidate is the same rows with U unused columns appended
(each cell `x`). Both run warm (the scoring environment is built first). Best wall time of
--repeats runs. Target: at most 2x the baseline with 100,000 unused columns (before issue 15
every column was parsed: 173 s for one row; 1.1M columns did not finish in 300 s).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from logged_sample import input_csv

from h2o_dai_py_scoring_mlflow.runtime import processes
from h2o_dai_py_scoring_mlflow.runtime.scorer import scoring_environment
from h2o_dai_py_scoring_mlflow.samples import build_sample
from h2o_dai_py_scoring_mlflow.settings import load_settings

TARGET = 2.0  # wide over narrow wall time, at most, with 100,000 unused columns


def _widen(narrow: Path, wide: Path, unused: int) -> None:
    header, *rows = narrow.read_text().splitlines()
    with wide.open("w") as handle:
        handle.write(header + "".join(f",unused{i}" for i in range(unused)) + "\n")
        cells = ",x" * unused
        handle.writelines(row + cells + "\n" for row in rows)


def _best(argv: list, env: dict, cwd: Path, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        processes.run(argv, env=env, cwd=cwd)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10)
    parser.add_argument("--unused", default="100000,1000000")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="dai-mlflow-bench-wide-"))
    try:
        sample = build_sample("binary", scratch / "sample", rows=3000)
        scoring_environment(load_settings(), sample.pipeline)
        env = processes.child_environment({"DRIVERLESS_AI_LICENSE_FILE": str(sample.license_file)})
        narrow = scratch / "narrow.csv"
        input_csv(narrow, args.rows)

        def score(source: Path) -> float:
            argv = [sys.executable, "-m", "h2o_dai_py_scoring_mlflow.cli", "score",
                    "--scoring-dir", str(sample.pipeline), "--input-path", str(source),
                    "--output-path", str(scratch / "out.csv")]  # fmt: skip
            return _best(argv, env, scratch, args.repeats)

        baseline = score(narrow)
        print(f"baseline: {args.rows} rows, model columns only: {baseline:.2f} s", flush=True)
        ok = True
        for unused in (int(u) for u in args.unused.split(",")):
            wide = scratch / f"wide-{unused}.csv"
            _widen(narrow, wide, unused)
            seconds = score(wide)
            ratio = seconds / baseline
            mib = wide.stat().st_size / 2**20
            verdict = ""
            if unused == 100_000:
                ok = ratio <= TARGET
                verdict = f" (target <= {TARGET}: {'PASS' if ok else 'FAIL'})"
            print(f"{unused:,} unused columns ({mib:.0f} MiB): {seconds:.2f} s, "
                  f"{ratio:.2f}x{verdict}", flush=True)  # fmt: skip
            wide.unlink()
        return 0 if ok else 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
