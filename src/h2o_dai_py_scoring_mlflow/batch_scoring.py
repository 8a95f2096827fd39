"""Score a file with an export's own Scorer; runs inside the Python 3.8 scoring environment.

``python -m h2o_dai_py_scoring_mlflow.batch_scoring --job JOB.json --result RESULT.json``

JOB holds ``pipeline``, ``shims``, ``input_path``, ``output_path``, ``batch_size``,
``keep_columns``, ``apply_data_recipes`` and ``parent_pid``. The runtime shims are applied before
the scorer is imported. Progress and warnings go to stderr; the result, or the error and its tip,
go to RESULT as one JSON object. SIGTERM/SIGHUP, or the parent process going away, stop the run
and delete the partial output.
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

from . import processes
from .batch import BatchResult, score_file
from .batch_job import BatchJob
from .errors import DaiMlflowError
from .pipeline import example_frame, open_pipeline_folder
from .schema import read_input_schema
from .settings import LICENSE_KEY, resolve

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

    def __init__(self, module: str, example_py: Path, apply_data_recipes: bool) -> None:
        self._module = module
        self._example_py = example_py
        self._apply_data_recipes = apply_data_recipes
        self._scorer: Any = None

    def _get(self) -> Any:
        if self._scorer is None:
            scorer_class = importlib.import_module(self._module).Scorer
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
        return self._get().score_batch(frame, apply_data_recipes=self._apply_data_recipes)

    def empty_predictions(self) -> Any:
        """example.py's rows scored: their columns are the prediction columns."""
        return self.score(example_frame(self._example_py).iloc[:1])

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


def _run(job: Dict[str, Any]) -> BatchResult:
    sys.path.insert(0, str(job["shims"]))
    importlib.import_module("h2o_dai_shims").apply()
    pipeline = open_pipeline_folder(Path(job["pipeline"]))
    schema = read_input_schema(pipeline.folder)
    scorer = ExportScorer(
        pipeline.scorer_module, pipeline.example_py, bool(job["apply_data_recipes"])
    )
    parent = int(job["parent_pid"])

    def still_wanted() -> None:
        if os.getppid() != parent:
            raise DaiMlflowError(
                "The process that started this scoring run has gone; its partial output was "
                "deleted."
            )

    keep: List[str] = [str(name) for name in job["keep_columns"]]
    try:
        return score_file(
            BatchJob(
                Path(job["input_path"]), Path(job["output_path"]), int(job["batch_size"]),
                tuple(keep),
            ),
            schema,
            scorer.score,
            scorer.empty_predictions,
            still_wanted=still_wanted,
        )  # fmt: skip
    finally:
        scorer.finish()


def _peak_mib() -> float:
    """This process's peak resident memory (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="batch_scoring")
    parser.add_argument("--job", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args(argv)
    job = json.loads(args.job.read_text(encoding="utf-8"))
    level = logging.DEBUG if job.get("diag") else logging.INFO
    logging.basicConfig(level=level, format="dai-mlflow: %(message)s", stream=sys.stderr)
    for stop_signal in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop_signal, _stop)
    processes.die_with_parent(int(job["parent_pid"]))
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
