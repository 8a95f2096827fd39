"""Parameter parsing for the MLflow Project entry points (run inside Python 3.8).

MLflow passes every parameter, so optional ones arrive as empty strings; they mean "not set".
Errors end the process with one ``ERROR`` line, a ``TIP`` line and exit code 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Callable, List, Optional, Tuple

from .errors import DaiMlflowError, SettingError, error_lines
from .settings import BATCH_SIZE, load_settings


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


def _guarded(action: Callable[[], int]) -> int:
    logging.basicConfig(level=logging.INFO, format="dai-mlflow: %(message)s", stream=sys.stderr)
    try:
        return action()
    except DaiMlflowError as exc:
        print("\n".join(error_lines(exc)), file=sys.stderr)
        return 1


def log_model_main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="log_model")
    parser.add_argument("--scoring-dir", required=True)
    parser.add_argument("--artifact-path", type=_optional, default=None)
    parser.add_argument("--registered-model-name", type=_optional, default=None)
    parser.add_argument("--apply-data-recipes", type=_boolean, default=False)
    parser.add_argument("--input-example", type=_optional, default=None)
    parser.add_argument("--result-file", type=_optional, default=None)
    args = parser.parse_args(argv)

    def action() -> int:
        from .model.packaging import log_driverless_scoring_pipeline  # noqa: PLC0415  # needs mlflow

        logged = log_driverless_scoring_pipeline(
            args.scoring_dir,
            artifact_path=args.artifact_path,
            registered_model_name=args.registered_model_name,
            apply_data_recipes=args.apply_data_recipes,
            input_example=Path(args.input_example) if args.input_example else None,
        )
        if args.result_file:
            Path(args.result_file).write_text(logged.to_json() + "\n", encoding="utf-8")
        print(logged.to_json())
        return 0

    return _guarded(action)


def score_main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="score")
    parser.add_argument("--scoring-dir", type=_optional, default=None)
    parser.add_argument("--model-uri", type=_optional, default=None)
    parser.add_argument("--input-path", required=True)
    parser.add_argument("--output-path", required=True)
    parser.add_argument("--batch-size", type=_optional_batch_size, default=None)
    parser.add_argument("--apply-data-recipes", type=_optional_boolean, default=None)
    parser.add_argument("--keep-columns", type=column_names, default=())
    args = parser.parse_args(argv)

    def action() -> int:
        from .batch.launch import ScoreRequest, score_file  # noqa: PLC0415

        summary = score_file(
            load_settings(),
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

    return _guarded(action)
