"""The main job on the embedded sample: build it, provision Python 3.8, score its example rows."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from .launcher import ExampleScores, ScoringEnvironment, score_frame, scoring_environment
from .samples import SampleResult, build_sample
from .samples.wheel_sources.h2oaicore.licensing import FILE_VARIABLE
from .settings import Settings

LOG = logging.getLogger(__name__)
DEMO_MARKER = ".dai-mlflow-demo"


@dataclass(frozen=True)
class DemoResult:
    sample: SampleResult
    scoring: ScoringEnvironment
    scores: ExampleScores


def run_demo(
    settings: Settings, *, kind: str, out: Path, force: bool = False, echo: bool = False
) -> DemoResult:
    """Run the demo in ``out`` (a folder the demo owns: it is replaced on every run)."""
    owned = (out / DEMO_MARKER).is_file()
    LOG.info("1/3 Writing a synthetic %s DAI export to %s", kind, out)
    sample = build_sample(kind, out, force=owned or force)
    (out / DEMO_MARKER).write_text("written by `dai-mlflow demo`; replaced on every run\n")
    LOG.info("2/3 Provisioning the Python 3.8 scoring environment")
    scoring = scoring_environment(settings, sample.pipeline, echo=echo)
    LOG.info("3/3 Scoring example.py's rows inside %s", scoring.environment.path)
    scores = score_frame(
        scoring.environment, sample.pipeline, extra_env={FILE_VARIABLE: str(sample.license_file)}
    )
    return DemoResult(sample, scoring, scores)
