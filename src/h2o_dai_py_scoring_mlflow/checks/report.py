"""What a validation found: one result per check, a table for people, JSON for machines.

A check passes, fails (with what to change) or is skipped (with why). The report of a
validation is logged to the MLflow run when there is one: the active run in this process, or
``MLFLOW_RUN_ID`` as ``mlflow run`` sets it for an entry point.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

LOG = logging.getLogger(__name__)
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


@dataclass(frozen=True)
class CheckResult:
    """One check: its name, outcome, what it found, and the fix when it failed."""

    name: str
    outcome: str
    detail: str
    fix: Optional[str] = None

    @property
    def failed(self) -> bool:
        return self.outcome == FAILED


def passed(name: str, detail: str) -> CheckResult:
    return CheckResult(name, PASSED, detail)


def failed(name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(name, FAILED, detail, fix)


def skipped(name: str, why: str) -> CheckResult:
    return CheckResult(name, SKIPPED, why)


@dataclass
class Report:
    """Every check of one validation, in the order they ran."""

    model: str
    results: List[CheckResult] = field(default_factory=list)

    def add(self, *results: CheckResult) -> None:
        self.results.extend(results)

    @property
    def ok(self) -> bool:
        return not any(result.failed for result in self.results)

    def failures(self) -> List[CheckResult]:
        return [result for result in self.results if result.failed]

    def to_dict(self) -> Dict[str, Any]:
        return {"model": self.model, "ok": self.ok, "checks": [asdict(r) for r in self.results]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def table(self) -> str:
        """The results as a plain-text table, failures with their fix."""
        width = max((len(r.name) for r in self.results), default=10)
        lines = [f"validate {self.model}"]
        for result in self.results:
            mark = {PASSED: "ok  ", FAILED: "FAIL", SKIPPED: "skip"}[result.outcome]
            lines.append(f"  {mark}  {result.name:<{width}}  {result.detail}")
            if result.fix:
                lines.append(f"        {'':<{width}}  fix: {result.fix}")
        verdict = "passed" if self.ok else f"FAILED ({len(self.failures())} check(s))"
        lines.append(f"result: {verdict}")
        return "\n".join(lines)


def log_report_to_run(report: Report) -> Optional[str]:
    """Log the report to the active MLflow run (or ``MLFLOW_RUN_ID``'s); return its id."""
    loaded = sys.modules.get("mlflow")
    run_id: Optional[str] = None
    if loaded is not None and loaded.active_run() is not None:
        run_id = loaded.active_run().info.run_id
    run_id = run_id or os.environ.get("MLFLOW_RUN_ID") or None
    if run_id is None:
        return None
    import mlflow  # noqa: PLC0415  # whichever MLflow runs this
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    client = mlflow.MlflowClient()
    try:
        client.log_dict(run_id, report.to_dict(), "validation/report.json")
        client.log_metric(run_id, "validation_failures", float(len(report.failures())))
        client.set_tag(
            run_id, "h2o_dai_py_scoring_mlflow.validation", PASSED if report.ok else FAILED
        )
    except MlflowException as exc:
        LOG.warning("could not log the validation report to run %s: %s", run_id, exc)
        return None
    return run_id
