"""The MLflow pyfunc wrapper around a DAI scorer.

This module is self-contained (standard library, pandas, MLflow and ``h2o_dai_shims``) because it
is copied into every logged model as ``code/h2o_dai_pyfunc_model.py`` next to the shims, and the
model's environment does not have this package. Every process that loads the model runs
``load_context`` first. Where the export's scorer can be imported (the model's own Python 3.8
environment: serving, ``mlflow models predict``), it applies the shims and the scorer is
imported lazily, on the first prediction, once per process. Anywhere else (another Python, a
notebook on MLflow 3.x), it hands scoring to a long-lived Python 3.8 worker of this package
(``h2o_dai_py_scoring_mlflow.model.worker``, the one import of the package here, optional), or,
without the package, raises one error that names the ways to run the model.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc.model import PythonModel

MODULE_NAME = "h2o_dai_pyfunc_model"
ARTIFACT_KEY = "scoring-pipeline"
SCORE_OPTIONS = ("output_margin", "pred_contribs", "pred_contribs_original", "fast_approx")
LICENSE_HELP = (
    "Driverless AI license missing or invalid: set DRIVERLESS_AI_LICENSE_KEY (the key) or "
    "DRIVERLESS_AI_LICENSE_FILE (path to license.sig) in the environment that serves this model"
)


def _needs_python_38(scorer_module: str) -> str:
    version = "{}.{}".format(*sys.version_info[:2])
    if version == "3.8":
        where = (
            "is not installed in this Python 3.8 environment (install the model's "
            "requirements.txt, as mlflow models serve and predict do)"
        )
    else:
        where = f"cannot be imported in Python {version}"
    return (
        f"This model scores with a Driverless AI scorer ({scorer_module}) built for Python 3.8 "
        f"only, and it {where}. Three ways to run it from here:\n"
        "1. pip install h2o-dai-py-scoring-mlflow (into this Python), then load the model again: "
        "it runs in a Python 3.8 worker, built once per machine from the model's own files;\n"
        '2. mlflow.models.predict(model_uri, data, env_manager="uv");\n'
        "3. dai-mlflow score --model-uri <model uri> --input-path <file> --output-path <file>."
    )


def _masked(text: str) -> str:
    """``text`` with the license key from the environment (if any) masked."""
    key = os.environ.get("DRIVERLESS_AI_LICENSE_KEY", "").strip()
    return text.replace(key, "******") if key else text


def _invalid(message: str) -> MlflowException:
    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)


def _to_frame(model_input: Any) -> pd.DataFrame:
    if isinstance(model_input, pd.DataFrame):
        return model_input
    if isinstance(model_input, dict) and "columns" in model_input and "data" in model_input:
        return pd.DataFrame(model_input["data"], columns=model_input["columns"])
    if isinstance(model_input, dict):
        return pd.DataFrame(model_input)
    if isinstance(model_input, list) and all(isinstance(row, dict) for row in model_input):
        return pd.DataFrame.from_records(model_input)
    raise _invalid(
        f"Unsupported input of type {type(model_input).__name__}: pass a pandas DataFrame, a "
        "list of records or a {'columns': [...], 'data': [...]} split dict"
    )


def _coerce(series: pd.Series, mlflow_type: str) -> pd.Series:
    if mlflow_type in ("float", "double"):
        return pd.to_numeric(series, errors="coerce").astype("float64")
    if mlflow_type in ("integer", "long"):
        return pd.to_numeric(series, errors="coerce")
    if mlflow_type == "boolean":
        lowered = series.map(lambda v: str(v).strip().lower() if v is not None else None)
        return lowered.map({"true": True, "1": True, "false": False, "0": False})
    return series.map(lambda v: None if _missing_text(v) else str(v))


def _missing_text(value: Any) -> bool:
    """None and NaN, and the text 'None': in the `inputs` and `instances` request formats MLflow
    2.17 turns a null in a text column into the text 'None' before the model sees it."""
    return value is None or value == "None" or (isinstance(value, float) and math.isnan(value))


class DaiScoringPipelineModel(PythonModel):
    """Scores pandas frames with the export's own ``Scorer``; one scorer per process."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._scorer: Any = None
        self._worker: Any = None
        self._lock = threading.Lock()
        self._config: Dict[str, Any] = {}
        self._inputs: List[Dict[str, str]] = []

    def __getstate__(self) -> Dict[str, Any]:
        return {}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self._reset()

    def load_context(self, context: Any) -> None:
        self._config = dict(context.model_config or {})
        self._inputs = list(self._config.get("inputs", []))
        if importlib.util.find_spec(self._config["scorer_module"]) is not None:
            importlib.import_module("h2o_dai_shims").apply()
            return
        model_dir = Path(context.artifacts[ARTIFACT_KEY]).resolve().parents[1]
        self._worker = _start_worker(model_dir, self._config["scorer_module"])

    def _get_scorer(self) -> Any:
        with self._lock:
            if self._scorer is None:
                module = importlib.import_module(self._config["scorer_module"])
                try:
                    self._scorer = module.Scorer()
                except Exception as exc:
                    if "licen" in str(exc).lower() or type(exc).__name__ == "LicenseError":
                        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                        raise MlflowException(f"{LICENSE_HELP} ({_masked(first_line)})") from None
                    raise
            return self._scorer

    def _select(self, model_input: Any) -> pd.DataFrame:
        """The model's input columns of ``model_input``, as a DataFrame, in signature order."""
        frame = _to_frame(model_input)
        names = [column["name"] for column in self._inputs]
        missing = [name for name in names if name not in frame.columns]
        if missing:
            raise _invalid(
                f"Missing input column(s): {', '.join(missing)}. "
                f"Expected columns: {', '.join(names)}"
            )
        return frame[names]

    def _prepare(self, model_input: Any) -> pd.DataFrame:
        frame = self._select(model_input)
        prepared = pd.DataFrame(index=frame.index)
        for column in self._inputs:
            prepared[column["name"]] = _coerce(frame[column["name"]], column["type"])
        return prepared

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: Optional[Dict[str, Any]] = None
    ) -> pd.DataFrame:
        """``model_input`` may also be records or a split dict. The hint is a DataFrame so that
        MLflow 3.x neither warns about it nor validates against it (the signature does)."""
        if self._worker is not None:
            return _predict_in_worker(self._worker, self._select(model_input), params)
        options = dict(params or {})
        frame = self._prepare(model_input)
        kwargs = {
            "apply_data_recipes": bool(
                options.get("apply_data_recipes", self._config.get("apply_data_recipes", False))
            )
        }
        for name in SCORE_OPTIONS:
            if name in options:
                kwargs[name] = bool(options[name])
        result: pd.DataFrame = self._get_scorer().score_batch(frame, **kwargs)
        result.index = frame.index
        return result


def _start_worker(model_dir: Path, scorer_module: str) -> Any:
    """This package's Python 3.8 worker for the model, or the error naming the ways."""
    try:
        from h2o_dai_py_scoring_mlflow.errors import DaiMlflowError  # noqa: PLC0415
        from h2o_dai_py_scoring_mlflow.model.worker import worker_for_model  # noqa: PLC0415
    except ImportError:
        raise MlflowException(_needs_python_38(scorer_module)) from None
    try:
        return worker_for_model(model_dir)
    except DaiMlflowError as exc:
        tip = f"\n{exc.tip}" if exc.tip else ""
        raise MlflowException(f"{exc.message}{tip}") from None


def _predict_in_worker(
    worker: Any, frame: pd.DataFrame, params: Optional[Dict[str, Any]]
) -> pd.DataFrame:
    from h2o_dai_py_scoring_mlflow.model.worker import WorkerError  # noqa: PLC0415

    try:
        result: pd.DataFrame = worker.predict(frame, params)
    except WorkerError as exc:
        raise MlflowException(exc.message) from None
    result.index = frame.index
    return result
