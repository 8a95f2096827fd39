"""Score a file with an export's own Scorer; runs inside the Python 3.8 scoring environment.

``python -m h2o_dai_py_scoring_mlflow.batch.inside --job JOB.json --result RESULT.json``

JOB is a :class:`~.job.ScorerJob`: everything needed is in it, so this process reads nothing of
the export but its installed scorer. The runtime shims are applied before the scorer is imported.
Progress and warnings go to stderr; the result, or the error and its tip, go to RESULT as one JSON
object. SIGTERM/SIGHUP, or the parent process going away, stop the run and delete the partial
output.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import resource
import signal
import sys
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import Any, Dict, List, Optional

import pandas as pd

from ..errors import DaiMlflowError
from ..settings import LICENSE_KEY, resolve
from .job import ScorerJob
from .loop import BatchResult, ColumnPlan, score_file

LICENSE_HELP = (
    "The Driverless AI license is missing or invalid: set DRIVERLESS_AI_LICENSE_KEY (the key) or "
    "DRIVERLESS_AI_LICENSE_FILE (path to license.sig) for the scoring run"
)


class Stopped(BaseException):
    """A stop signal arrived; a BaseException so that no scorer code catches it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class ExportScorer:
    """The export's ``Scorer``, created on first use (after the columns were checked)."""

    def __init__(self, job: ScorerJob) -> None:
        self._job = job
        self._scorer: Any = None

    def _get(self) -> Any:
        if self._scorer is None:
            scorer_class = importlib.import_module(self._job.scorer_module).Scorer
            try:
                self._scorer = scorer_class()
            except Exception as exc:
                if "licen" in str(exc).lower() or type(exc).__name__ == "LicenseError":
                    raise DaiMlflowError(
                        f"{LICENSE_HELP}. The scorer said: {_without_key(str(exc))}",
                        tip="Never pass the key on the command line; use the environment.",
                    ) from None
                raise
        return self._scorer

    def score(self, frame: Any) -> Any:
        return self._get().score_batch(frame, apply_data_recipes=self._job.apply_data_recipes)

    def empty_predictions(self) -> Any:
        """example.py's first row scored: its columns are the prediction columns."""
        row = pd.concat(
            [pd.Series([v.value], name=v.name, dtype=v.dtype) for v in self._job.example_row],
            axis=1,
        )
        plan = ColumnPlan(self._job.columns, (), self._job.batch.input_path)
        return self.score(plan.prepare(row, 1))

    def finish(self) -> None:
        if self._scorer is not None:
            self._scorer.finish()


def _without_key(message: str) -> str:
    """The scorer's message on one line, with the license key (if any) masked."""
    text = " ".join(line.strip() for line in message.splitlines() if line.strip())[:500]
    key = resolve(LICENSE_KEY).value
    return text.replace(key, "******") if key else text


def _stop(signum: int, frame: Optional[FrameType]) -> None:
    raise Stopped(signum)


def die_with_parent(parent_pid: int) -> None:
    """Get SIGTERM when the parent dies (Linux), and exit now if it already has."""
    if sys.platform.startswith("linux"):
        import ctypes  # noqa: PLC0415  # Linux only

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM))
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGTERM)


def _run(job: ScorerJob) -> BatchResult:
    sys.path.insert(0, str(job.shims))
    importlib.import_module("h2o_dai_shims").apply()
    scorer = ExportScorer(job)
    parent = job.parent_pid

    def still_wanted() -> None:
        if os.getppid() != parent:
            raise DaiMlflowError(
                "The process that started this scoring run has gone; its partial output was "
                "deleted."
            )

    try:
        return score_file(
            job.batch,
            job.columns,
            scorer.score,
            scorer.empty_predictions,
            still_wanted=still_wanted,
        )
    finally:
        scorer.finish()


def _peak_mib() -> float:
    """This process's peak resident memory (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="batch.inside")
    parser.add_argument("--job", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args(argv)
    job = ScorerJob.from_json(args.job.read_text(encoding="utf-8"))
    level = logging.DEBUG if job.diag else logging.INFO
    logging.basicConfig(level=level, format="dai-mlflow: %(message)s", stream=sys.stderr)
    for stop_signal in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop_signal, _stop)
    die_with_parent(job.parent_pid)
    code = 0
    try:
        payload: Dict[str, Any] = {"result": asdict(_run(job)), "peak_memory_mib": _peak_mib()}
    except DaiMlflowError as exc:
        payload, code = {"error": exc.message, "tip": exc.tip}, 1
    except (Stopped, KeyboardInterrupt) as exc:
        signum = exc.signum if isinstance(exc, Stopped) else int(signal.SIGINT)
        payload = {"error": "Scoring was stopped; its partial output was deleted.", "tip": None}
        code = 128 + int(signum)
    partial = args.result.with_name(args.result.name + ".tmp")
    partial.write_text(json.dumps(payload), encoding="utf-8")
    partial.replace(args.result)
    return code


if __name__ == "__main__":
    sys.exit(main())
