"""The MLflow Project entry points: parse the parameters, call the library, exit code.

Run by ``mlflow run`` / ``mlflow.projects.run``: inside the Project environment (Python 3.8,
MLflow 2.17) under the ``virtualenv``/``uv`` managers, or in the caller's own Python under
``--env-manager local`` (then the work is handed to the cached Project environment, as
``dai-mlflow`` does). Inside 3.8, a tracking store MLflow 2.17 cannot open is detected first and
bridged (:mod:`.bridge.rerun`). MLflow passes every parameter, so optional ones arrive as empty
strings; they mean "not set". Errors end the process with one ``ERROR`` line, ``TIP`` lines and
exit code 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Callable, List, Optional, Tuple

from .api import log_model
from .batch.launch import WHOLE_FILE, ScoreRequest, score_file
from .bridge.launcher import LogModelRequest
from .bridge.rerun import rerun_behind_bridge
from .errors import DaiMlflowError, SettingError, error_lines
from .model.inline import inline_capable
from .runtime import processes
from .scratch import sweep_stale_scratch
from .settings import BATCH_SIZE, Settings, load_settings


def _optional(value: str) -> Optional[str]:
    return value.strip() or None


def _boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def _optional_boolean(value: str) -> Optional[bool]:
    return _boolean(value) if value.strip() else None


def batch_size_arg(value: str) -> int:
    """A batch size from the command line; argparse reports a bad one."""
    try:
        return BATCH_SIZE.parse("batch size", value)
    except SettingError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _optional_batch_size(value: str) -> Optional[int]:
    """Empty: the default; ``0``: the whole file in one batch (as the prototype's score entry
    point took it); otherwise a batch size."""
    if value.strip() == "0":
        return WHOLE_FILE
    return batch_size_arg(value) if value.strip() else None


def column_names(value: str) -> Tuple[str, ...]:
    """``a,b`` or a JSON list (for names with commas); empty means none."""
    text = value.strip()
    if not text:
        return ()
    if text.startswith("["):
        try:
            names = json.loads(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"not a JSON list of names: {exc}") from None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise argparse.ArgumentTypeError("expected a JSON list of column names")
        return tuple(names)
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _guarded(
    entry_point: str, argv: List[str], action: Callable[[Settings], int], *, tracking: bool = True
) -> int:
    logging.basicConfig(level=logging.INFO, format="dai-mlflow: %(message)s", stream=sys.stderr)
    processes.interrupt_on_stop_signals()
    sweep_stale_scratch()
    try:
        settings = load_settings()
        if tracking and inline_capable():
            rerun = rerun_behind_bridge(entry_point, argv, settings)
            if rerun is not None:
                return rerun
        return action(settings)
    except DaiMlflowError as exc:
        print("\n".join(error_lines(exc)), file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print(
            f"ERROR: {entry_point} was interrupted; nothing half-written was kept.", file=sys.stderr
        )
        return processes.exit_code_for(exc)


def log_model_main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="log_model")
    parser.add_argument("--scoring-dir", required=True)
    parser.add_argument("--artifact-path", type=_optional, default=None)
    parser.add_argument("--registered-model-name", type=_optional, default=None)
    parser.add_argument("--apply-data-recipes", type=_boolean, default=False)
    parser.add_argument("--input-example", type=_optional, default=None)
    parser.add_argument("--result-file", type=_optional, default=None)
    parser.add_argument(
        "--model-dir",
        type=_optional,
        default=None,
        help="build the model into this folder and log nothing (the launcher logs it)",
    )
    args = parser.parse_args(argv)

    def build(settings: Settings) -> int:
        from .model.packaging import build_model  # noqa: PLC0415  # pandas and MLflow 2.17

        built = build_model(
            args.scoring_dir,
            Path(args.model_dir),
            settings=settings,
            apply_data_recipes=args.apply_data_recipes,
            input_example=Path(args.input_example) if args.input_example else None,
        )
        _report(built.to_json(), args.result_file)
        return 0

    def action(settings: Settings) -> int:
        request = LogModelRequest(
            scoring_dir=args.scoring_dir,
            artifact_path=args.artifact_path,
            registered_model_name=args.registered_model_name,
            apply_data_recipes=args.apply_data_recipes,
            input_example=Path(args.input_example) if args.input_example else None,
        )
        _report(json.dumps(log_model(settings, request, echo=True)), args.result_file)
        return 0

    if args.model_dir:
        return _guarded("log_model", argv, build, tracking=False)
    return _guarded("log_model", argv, action)


def _report(record: str, result_file: Optional[str]) -> None:
    """The result as one JSON line on stdout, and in ``result_file`` when asked."""
    if result_file:
        Path(result_file).write_text(record + "\n", encoding="utf-8")
    print(record)


def score_main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="score")
    parser.add_argument("--scoring-dir", type=_optional, default=None)
    parser.add_argument("--model-uri", type=_optional, default=None)
    parser.add_argument("--input-path", required=True)
    parser.add_argument("--output-path", required=True)
    parser.add_argument("--batch-size", type=_optional_batch_size, default=None)
    parser.add_argument("--apply-data-recipes", type=_optional_boolean, default=None)
    parser.add_argument("--keep-columns", type=column_names, default=())
    parser.add_argument("--engine", choices=("local", "spark"), default="local")
    args = parser.parse_args(argv)

    def action(settings: Settings) -> int:
        if args.engine == "spark":
            from .spark.job import score_file_with_spark  # noqa: PLC0415  # the [spark] extra

            request = ScoreRequest(
                input_path=args.input_path,
                output_path=args.output_path,
                scoring_dir=args.scoring_dir,
                model_uri=args.model_uri,
                batch_size=args.batch_size,
                apply_data_recipes=args.apply_data_recipes,
                keep_columns=args.keep_columns,
            )
            print(score_file_with_spark(settings, request).to_json())
            return 0
        summary = score_file(
            settings,
            ScoreRequest(
                input_path=args.input_path,
                output_path=args.output_path,
                scoring_dir=args.scoring_dir,
                model_uri=args.model_uri,
                batch_size=args.batch_size,
                apply_data_recipes=args.apply_data_recipes,
                keep_columns=args.keep_columns,
            ),
            echo=True,
        )
        print(summary.to_json())
        return 0

    return _guarded("score", argv, action)


def validate_main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="validate")
    parser.add_argument("--model-uri", type=_optional, default=None)
    parser.add_argument("--scoring-dir", type=_optional, default=None)
    parser.add_argument("--serve", type=_boolean, default=False)
    parser.add_argument("--lock", type=_boolean, default=False)
    parser.add_argument("--report", type=_optional, default=None)
    args = parser.parse_args(argv)

    def action(settings: Settings) -> int:
        from .checks.validation import ValidateRequest, validate  # noqa: PLC0415  # numpy

        request = ValidateRequest(
            model_uri=args.model_uri,
            scoring_dir=args.scoring_dir,
            serve=args.serve,
            lock=args.lock,
        )
        report = validate(settings, request, echo=True)
        if args.report:
            Path(args.report).write_text(report.to_json() + "\n", encoding="utf-8")
        print(report.table(), file=sys.stderr)
        print(json.dumps(report.to_dict()))
        if report.ok:
            return 0
        failures = report.failures()
        raise DaiMlflowError(
            f"validation failed: {len(failures)} check(s): {', '.join(f.name for f in failures)}.",
            tip=failures[0].fix,
        )

    return _guarded("validate", argv, action)


def build_pyorc_main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="build_pyorc")
    parser.add_argument("--scoring-dir", required=True)
    parser.add_argument("--version", type=_optional, default=None)
    args = parser.parse_args(argv)

    def action(settings: Settings) -> int:
        from .checks.pyorc import build_pyorc, pyorc_version_of  # noqa: PLC0415

        version = (
            args.version or pyorc_version_of(args.scoring_dir) or load_settings().pyorc_version
        )
        result = build_pyorc(settings, args.scoring_dir, version=version, echo=True)
        print(json.dumps({"wheel": Path(result.wheel).name, "source": result.source,
                          "changed": result.changed}))  # fmt: skip
        return 0

    return _guarded("build_pyorc", argv, action, tracking=False)
