"""`validate`: every failure Databricks Model Serving would hit, found on the laptop first.

1. Static checks of the model's files (:mod:`.artifacts`).
2. Resolution of its requirements for the serving platform (:mod:`.resolution`); ``lock``
   writes the pinned result into the model.
3. The clean-environment rehearsal: an environment built only from the model's files, MLflow
   2.17's ``mlflow models predict`` on the input example and on rows with missing values, each
   compared with the export's scorer called directly.
4. With ``serve``: MLflow 2.17's ``mlflow models serve`` on loopback, answering every request
   format Serving accepts, compared the same way.
The model is a logged one (``model_uri``) or an export's, built here without logging anything.
Runs on the caller's Python; what it checks runs in Python 3.8 environments.
"""

from __future__ import annotations

import contextlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Union

import numpy as np

from ..bridge.launcher import LogModelRequest, build_command, run_build
from ..errors import CommandError, DaiMlflowError
from ..model.environment import model_environment
from ..model.location import ModelFolder, model_folder, open_model
from ..runtime.environments import PythonEnvironment
from ..runtime.scorer import score_frame, scoring_environment
from ..scratch import scratch_dir
from ..settings import Settings
from .artifacts import static_checks
from .lock import lock_model
from .rehearsal import predict_with_mlflow
from .report import CheckResult, Report, failed, log_report_to_run, passed, skipped
from .resolution import resolve_for_serving
from .serving import ModelServer, ServeError, serve_model

# A rehearsal needs the model's files, an installable environment and a license.
_PREREQUISITES = ("layout", "requirements", "license")


@dataclass(frozen=True)
class ValidateRequest:
    """What `dai-mlflow validate` and the `validate` entry point were asked to do."""

    model_uri: Optional[str] = None
    scoring_dir: Optional[str] = None
    serve: bool = False
    lock: bool = False


def missing_value_rows(split: Dict[str, Any]) -> Dict[str, Any]:
    """The example rows, then one row per column with that column missing, then one row with
    every column missing (as real requests have them)."""
    columns = list(split["columns"])
    rows = [list(row) for row in split["data"]]
    base = rows[0] if rows else [None] * len(columns)
    for index in range(len(columns)):
        row = list(base)
        row[index] = None
        rows.append(row)
    rows.append([None] * len(columns))
    return {"columns": columns, "data": rows}


def _input_example(model_dir: Path) -> Dict[str, Any]:
    path = model_dir / "input_example.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    split: Dict[str, Any] = data.get("dataframe_split", data) if isinstance(data, dict) else {}
    if "columns" not in split or "data" not in split:
        raise DaiMlflowError(f"{path} is not a split frame ({{'columns': [...], 'data': [...]}}).")
    return split


def _as_array(records: Sequence[Dict[str, Any]], columns: Sequence[str]) -> np.ndarray:
    return np.array(
        [[np.nan if row.get(c) is None else float(row[c]) for c in columns] for row in records]
    )


def _same(got: np.ndarray, expected: np.ndarray) -> bool:
    return got.shape == expected.shape and bool(
        np.allclose(got, expected, rtol=1e-12, atol=0.0, equal_nan=True)
    )


@dataclass(frozen=True)
class _Expected:
    split: Dict[str, Any]
    columns: List[str]
    values: np.ndarray


def _expected(
    settings: Settings,
    model: ModelFolder,
    split: Dict[str, Any],
    extra_env: Optional[Mapping[str, str]],
) -> _Expected:
    scoring = scoring_environment(settings, model.pipeline).environment
    direct = score_frame(scoring, model.pipeline, split, extra_env=extra_env)
    return _Expected(split, direct.columns, np.array(direct.rows, dtype="float64"))


def _predict(
    env: PythonEnvironment,
    model: ModelFolder,
    split: Dict[str, Any],
    extra_env: Optional[Mapping[str, str]],
) -> Union[List[Dict[str, Any]], CheckResult]:
    """MLflow 2.17's answers for ``split``, or the failed check."""
    try:
        return predict_with_mlflow(env, model.path, split, extra_env=extra_env)
    except CommandError as exc:
        return failed(
            "clean-environment predict",
            f"MLflow 2.17 could not load or run the model: {exc.output_tail[-800:]}",
            "Fix what the error names (a missing wheel or package, the license), then validate "
            "again.",
        )


def _compare(records: List[Dict[str, Any]], expected: _Expected) -> CheckResult:
    name = "clean-environment predict"
    got = _as_array(records, expected.columns)
    rows = len(expected.split["data"])
    if not _same(got, expected.values):
        return failed(
            name,
            f"{rows} rows predicted, but the answers differ from the scorer called directly",
            "The model's environment differs from the export's: check the pins in "
            "requirements.txt against the export's requirements.txt.",
        )
    return passed(
        name,
        f"{rows} rows (example, and missing values in every column) equal the scorer's answers",
    )


def _bodies(split: Dict[str, Any]) -> Dict[str, Any]:
    import pandas as pd  # noqa: PLC0415

    frame = pd.DataFrame(split["data"], columns=split["columns"])
    records = [dict(zip(split["columns"], row)) for row in split["data"]]
    columns = {c: [row[i] for row in split["data"]] for i, c in enumerate(split["columns"])}
    return {
        "dataframe_split": ("application/json", json.dumps({"dataframe_split": split})),
        "dataframe_records": ("application/json", json.dumps({"dataframe_records": records})),
        "inputs": ("application/json", json.dumps({"inputs": columns})),
        "instances": ("application/json", json.dumps({"instances": records})),
        "csv": ("text/csv", frame.to_csv(index=False)),
    }


def _serve_checks(server: ModelServer, expected: _Expected) -> List[CheckResult]:
    results = []
    for form, (content_type, body) in _bodies(expected.split).items():
        name = f"serve: {form}"
        try:
            answer = server.post(body.encode(), content_type)
        except ServeError as exc:
            results.append(
                failed(name, exc.message, "Serving will answer this request the same way.")
            )
            continue
        predictions = answer.get("predictions", answer) if isinstance(answer, dict) else answer
        got = _as_array(predictions, expected.columns)
        if _same(got, expected.values):
            results.append(passed(name, f"{len(predictions)} rows equal the scorer's answers"))
        else:
            results.append(
                failed(name, "answers differ from the scorer called directly", "Report a bug.")
            )
    return results


@contextlib.contextmanager
def _model_to_validate(
    settings: Settings,
    request: ValidateRequest,
    extra_env: Optional[Mapping[str, str]],
    echo: bool,
) -> Iterator[ModelFolder]:
    if request.model_uri:
        with open_model(request.model_uri) as model:
            yield model
        return
    if not request.scoring_dir:
        raise DaiMlflowError(
            "Pass a model (--model-uri) or an export (scoring dir) to validate.",
            tip="e.g. dai-mlflow validate --model-uri models:/name/1, or dai-mlflow validate "
            "scorer.zip.",
        )
    with scratch_dir("validate") as scratch:
        build = LogModelRequest(scoring_dir=request.scoring_dir)
        command = build_command(
            settings, build, scratch / "model", scratch, echo=echo, extra_env=extra_env
        )
        run_build(command, echo=echo)
        yield model_folder(scratch / "model")


def validate(
    settings: Settings,
    request: ValidateRequest,
    *,
    echo: bool = False,
    extra_env: Optional[Mapping[str, str]] = None,
) -> Report:
    """Run every check on the model; the report says what passed and what to change.

    The serving resolution and the scorer's own answers are worked out alongside the
    rehearsal (each waits on subprocesses); with ``lock`` the rehearsal uses the locked files,
    so it waits for the resolution first.
    """
    report = Report(request.model_uri or str(request.scoring_dir))
    with _model_to_validate(settings, request, extra_env, echo) as model, ThreadPoolExecutor(
        max_workers=2, thread_name_prefix="dai-mlflow-validate"
    ) as pool:
        report.add(*static_checks(model.path, settings))
        resolving = pool.submit(resolve_for_serving, model.path, settings)
        later: List[CheckResult] = []
        if request.lock:
            resolution = resolving.result()
            report.add(resolution.check, lock_model(model.path, request.model_uri, resolution))
        blocked = [r.name for r in report.results if r.failed and r.name in _PREREQUISITES]
        if blocked:
            why = f"{', '.join(blocked)} failed"
            later.append(skipped("clean-environment predict", why))
            if request.serve:
                later.append(skipped("serve", why))
        else:
            later = _run_model(settings, request, model, pool, extra_env=extra_env, echo=echo)
        if not request.lock:
            report.add(resolving.result().check)
        report.add(*later)
    log_report_to_run(report)
    return report


def _run_model(
    settings: Settings,
    request: ValidateRequest,
    model: ModelFolder,
    pool: ThreadPoolExecutor,
    *,
    extra_env: Optional[Mapping[str, str]],
    echo: bool,
) -> List[CheckResult]:
    results: List[CheckResult] = []
    split = missing_value_rows(_input_example(model.path))
    scoring = pool.submit(_expected, settings, model, split, extra_env)
    try:
        env = model_environment(model.path, settings, echo=echo)
        answers = _predict(env, model, split, extra_env)
        expected = scoring.result()
    except DaiMlflowError as exc:
        results.append(
            failed(
                "clean environment",
                " ".join(line.strip() for line in exc.message.splitlines())[:1500],
                exc.tip or "Fix the requirement it names and validate again.",
            )
        )
        return results
    results.append(
        passed("clean environment", f"built from the model's own files: {env.path.name}")
    )
    prediction = answers if isinstance(answers, CheckResult) else _compare(answers, expected)
    results.append(prediction)
    if not request.serve:
        return results
    if prediction.failed:
        results.append(skipped("serve", "the clean-environment predict failed"))
        return results
    try:
        with serve_model(env, model.path, extra_env=extra_env) as server:
            results.append(passed("serve: /ping", f"mlflow models serve answered at {server.url}"))
            results.extend(_serve_checks(server, expected))
    except ServeError as exc:
        results.append(failed("serve: /ping", exc.message.splitlines()[0], exc.tip or ""))
    return results
