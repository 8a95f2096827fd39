"""Parameter parsing for the MLflow Project entry points (run inside Python 3.8).

MLflow passes every parameter, so optional ones arrive as empty strings; they mean "not set".
Errors end the process with one ``ERROR`` line, a ``TIP`` line and exit code 1.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Callable, List, Optional

from .errors import DaiMlflowError, error_lines


def _optional(value: str) -> Optional[str]:
    return value.strip() or None


def _boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


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
        from .packaging import log_driverless_scoring_pipeline  # noqa: PLC0415  # needs mlflow

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
