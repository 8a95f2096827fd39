"""Benchmark: `dai-mlflow score` batch sizes against scoring the whole file in one call.

    uv run python bench/score.py [--rows 1000000] [--batch-sizes 10000,20000,...] [--repeats 2]

A synthetic binary export scores a CSV of --rows rows (the sample's training columns plus an
`id` column), in the export's cached Python 3.8 scoring environment, two ways:

* baseline (the limit): one child that applies the runtime shims, reads the whole CSV with
  `pd.read_csv`, calls the scorer's `score_batch` once on the model's columns and writes the
  result with `to_csv` -- fastest possible, memory grows with the file;
* candidate: a warm `dai-mlflow score --batch-size B` (launcher included) for each batch size.

Each run goes through a fresh wrapper process that times it (`time.perf_counter`) and reports
two peaks: `RUSAGE_CHILDREN` `ru_maxrss` (the largest single process of that run's tree) and
the whole tree's RSS summed over its processes, sampled every 20 ms (`dai-mlflow score` is two
processes, the caller and the Python 3.8 scorer, alive at once). Best time and largest peaks over
--repeats runs. Targets, as ratios to the baseline measured in the same run: throughput >= 0.9,
peak memory of the whole tree <= 0.3.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Sequence, Tuple

from logged_sample import input_csv

from h2o_dai_py_scoring_mlflow.export.schema import read_input_schema
from h2o_dai_py_scoring_mlflow.runtime import processes
from h2o_dai_py_scoring_mlflow.runtime.project import shims_dir
from h2o_dai_py_scoring_mlflow.runtime.scorer import scoring_environment
from h2o_dai_py_scoring_mlflow.samples import build_sample
from h2o_dai_py_scoring_mlflow.settings import BATCH_SIZE, load_settings

THROUGHPUT_TARGET = 0.9  # candidate rows/s over baseline rows/s, at least
MEMORY_TARGET = 0.3  # candidate peak RSS over baseline peak RSS, at most
MARGIN = 0.05  # throughput headroom wanted above the target for the recommendation

# Runs argv, then prints its wall time, the peak RSS (KiB) of its largest descendant, and the
# peak of the whole tree's RSS summed over its processes, sampled from /proc every 20 ms.
MEASURE = """
import json, resource, subprocess, sys, time
from pathlib import Path

def rss_kib(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0

def tree(pid):
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [p for c in task.read_text().split() for p in tree(int(c))]
        except OSError:
            pass
    return found

started = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
tree_peak = 0
while proc.poll() is None:
    tree_peak = max(tree_peak, sum(rss_kib(p) for p in tree(proc.pid)))
    time.sleep(0.02)
seconds = time.perf_counter() - started
assert proc.returncode == 0, proc.returncode
print(json.dumps({"seconds": seconds, "tree_kib": tree_peak,
                  "maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""

# The limit: everything in memory, one score_batch call. Runs inside the 3.8 environment.
BASELINE = """
import importlib, json, sys
shims, module, input_path, output_path, columns = sys.argv[1:6]
sys.path.insert(0, shims)
importlib.import_module("h2o_dai_shims").apply()
import pandas as pd
scorer = importlib.import_module(module).Scorer()
frame = pd.read_csv(input_path)
result = scorer.score_batch(frame[json.loads(columns)])
result.to_csv(output_path, index=False)
scorer.finish()
"""


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_mib: float  # the largest single process
    tree_mib: float  # all processes of the run together (sampled)


def _measure(argv: Sequence[object], env: Dict[str, str], cwd: Path, repeats: int) -> Measured:
    runs = []
    for _ in range(repeats):
        done = processes.run(
            [sys.executable, "-c", MEASURE, *[str(a) for a in argv]], env=env, cwd=cwd
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return Measured(
        seconds=min(r["seconds"] for r in runs),
        peak_mib=max(r["maxrss_kib"] for r in runs) / 1024,
        tree_mib=max(r["tree_kib"] for r in runs) / 1024,
    )


def _scorer_module(pipeline: Path) -> str:
    wheel = next(pipeline.glob("scoring_h2oai_experiment_*.whl"))
    return wheel.name.split("-")[0]


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    default = BATCH_SIZE.default or 0
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-sizes", default="10000,20000,50000,100000,200000")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    sizes = sorted({int(s) for s in args.batch_sizes.split(",")} | {default})

    scratch = Path(tempfile.mkdtemp(prefix="dai-mlflow-bench-score-"))
    sample = build_sample("binary", scratch / "sample", rows=3000)
    input_path, output_path = scratch / "input.csv", scratch / "output.csv"
    input_csv(input_path, args.rows)
    mib = input_path.stat().st_size / 2**20
    print(f"input: {args.rows:,} rows, {mib:.0f} MiB CSV", flush=True)

    python = scoring_environment(load_settings(), sample.pipeline).environment.python
    env = processes.child_environment({"DRIVERLESS_AI_LICENSE_FILE": str(sample.license_file)})
    work = scratch / "work"
    work.mkdir()

    columns = json.dumps(read_input_schema(sample.pipeline).names)
    baseline_argv = [
        python, "-c", BASELINE, shims_dir(), _scorer_module(sample.pipeline),
        input_path, output_path, columns,
    ]  # fmt: skip
    baseline = _measure(baseline_argv, env, work, args.repeats)
    base_rate = args.rows / baseline.seconds
    print(
        f"baseline (read_csv + one score_batch + to_csv): {baseline.seconds:7.2f} s "
        f"{base_rate:9,.0f} rows/s  peak {baseline.peak_mib:7.0f} MiB "
        f"(tree {baseline.tree_mib:.0f} MiB)",
        flush=True,
    )

    header = (
        f"{'batch':>8} {'s':>7} {'rows/s':>9} {'speed':>6}      "
        f"{'largest MiB':>11} {'tree MiB':>8} {'memory':>6}"
    )
    print(f"dai-mlflow score, best of {args.repeats} (targets: speed >= "
          f"{THROUGHPUT_TARGET}, memory <= {MEMORY_TARGET} of the baseline):")  # fmt: skip
    print(header)
    results: Dict[int, Tuple[float, float]] = {}
    for size in sizes:
        cli = [
            sys.executable, "-m", "h2o_dai_py_scoring_mlflow.cli", "score",
            "--scoring-dir", sample.pipeline, "--input-path", input_path,
            "--output-path", output_path, "--batch-size", size,
        ]  # fmt: skip
        run = _measure(cli, env, work, args.repeats)
        speed = baseline.seconds / run.seconds
        memory = run.tree_mib / baseline.tree_mib
        results[size] = (speed, memory)
        print(
            f"{size:>8,} {run.seconds:7.2f} {args.rows / run.seconds:9,.0f} {speed:6.2f} "
            f"{_verdict(speed >= THROUGHPUT_TARGET)} {run.peak_mib:11.0f} {run.tree_mib:8.0f} "
            f"{memory:6.2f} "
            f"{_verdict(memory <= MEMORY_TARGET)}",
            flush=True,
        )

    speed, memory = results[default]
    meets = speed >= THROUGHPUT_TARGET and memory <= MEMORY_TARGET
    print(f"default batch size ({BATCH_SIZE.name}) {default:,}: meets both targets: "
          f"{'yes' if meets else 'no'}")  # fmt: skip
    fits = [
        s for s, (sp, mem) in results.items()
        if sp >= THROUGHPUT_TARGET + MARGIN and mem <= MEMORY_TARGET
    ]  # fmt: skip
    smallest = f"{min(fits):,}" if fits else "none"
    print(f"smallest batch size meeting both with {MARGIN} speed margin: {smallest}")
    shutil.rmtree(scratch)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
