"""Score a Spark DataFrame with a logged model, whatever the caller's MLflow.

``score_spark`` plans a ``mapInArrow`` whose function (:class:`PartitionScorer`) runs in Spark's
Python workers: each keeps one long-lived Python 3.8 worker (:mod:`..model.worker`) per model,
started on first use in the environment built from the model's own files on that node (the same
interpreter resolution, cache and lock as everywhere), and relays each Arrow batch to it as it
is. The
output schema comes from the model's signature: the kept input columns, then one double per
prediction column. A failure inside the 3.8 worker is raised in the Spark task with the worker's
own message, so the driver shows it; the 3.8 worker dies with its Spark Python worker.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import yaml

from ..errors import DaiMlflowError, ScoreInputError
from ..model.location import open_model
from ..model.worker import ScoringWorker, worker_for_model
from ..settings import load_settings
from .archive import pack_model, unpack_model

_WORKERS: Dict[str, ScoringWorker] = {}


@dataclass(frozen=True)
class ModelColumns:
    """A logged model's input and prediction columns, from its signature."""

    inputs: Tuple[str, ...]
    outputs: Tuple[str, ...]


def model_columns(model_dir: Path) -> ModelColumns:
    mlmodel = yaml.safe_load((model_dir / "MLmodel").read_text(encoding="utf-8"))
    signature = (mlmodel or {}).get("signature") or {}
    inputs = [c["name"] for c in json.loads(signature.get("inputs") or "[]")]
    outputs = [c["name"] for c in json.loads(signature.get("outputs") or "[]")]
    if not inputs or not outputs:
        raise ScoreInputError(
            f"{model_dir}: the model's signature has no {'outputs' if inputs else 'inputs'}, so "
            "the Spark output schema is unknown.",
            tip="Log the model with a DAI license in the environment (the outputs come from "
            "scoring its input example).",
        )
    return ModelColumns(tuple(inputs), tuple(outputs))


def _worker_for(archive_name: str) -> ScoringWorker:
    """This Python worker's 3.8 worker for the model shipped as ``archive_name``."""
    worker = _WORKERS.get(archive_name)
    if worker is None:
        from pyspark import SparkFiles  # noqa: PLC0415  # on the executors

        model_dir = unpack_model(Path(SparkFiles.get(archive_name)), load_settings().env_root)
        worker = worker_for_model(model_dir)
        _WORKERS[archive_name] = worker
    return worker


@dataclass(frozen=True)
class PartitionScorer:
    """The mapInArrow function: kept columns, then the model's predictions, row for row. Arrow
    batches go to the 3.8 worker and back as they are (no pandas in the Spark Python worker)."""

    archive_name: str
    inputs: Tuple[str, ...]
    keep: Tuple[str, ...]
    outputs: Tuple[str, ...]
    batch_size: int
    row_counter: Any = None  # a Spark accumulator, or None

    def __call__(self, batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa  # noqa: PLC0415

        worker = _worker_for(self.archive_name)
        for batch in batches:
            table = pa.Table.from_batches([batch])
            for start in range(0, table.num_rows, self.batch_size):
                piece = table.slice(start, self.batch_size)
                predictions = worker.predict_arrow(piece.select(list(self.inputs)))
                columns = [piece.column(name) for name in self.keep] + [
                    predictions.column(name).cast(pa.float64()) for name in self.outputs
                ]
                yield from pa.Table.from_arrays(
                    columns, names=[*self.keep, *self.outputs]
                ).to_batches()
                if self.row_counter is not None:
                    self.row_counter.add(piece.num_rows)


def _check_columns(available: Sequence[str], needed: ModelColumns, keep: Sequence[str]) -> None:
    missing = [name for name in needed.inputs if name not in available]
    if missing:
        raise ScoreInputError(
            f"The Spark DataFrame lacks the model's input column(s): {', '.join(missing)}.",
            tip=f"The model needs: {', '.join(needed.inputs)} (order does not matter).",
        )
    absent = [name for name in keep if name not in available]
    if absent:
        raise ScoreInputError(
            f"keep_columns names column(s) the DataFrame does not have: {', '.join(absent)}.",
            tip=f"Its columns are: {', '.join(available)}.",
        )
    clash = [name for name in keep if name in needed.outputs]
    if clash:
        raise ScoreInputError(
            f"keep_columns {', '.join(clash)} has the name of a prediction column.",
            tip="Keep a differently named id column, or rename the input column.",
        )


def score_spark(
    spark_df: Any,
    model_uri: str,
    *,
    keep_columns: Sequence[str] = (),
    batch_size: Optional[int] = None,
    row_counter: Any = None,
) -> Any:
    """``spark_df`` scored by the logged model at ``model_uri``: the kept columns, then one
    double column per prediction. Lazy, like every Spark transformation. ``row_counter`` (a
    ``SparkContext.accumulator(0)``) counts the rows scored, when given."""
    from pyspark.sql import types  # noqa: PLC0415  # the [spark] extra

    settings = load_settings()
    keep = tuple(dict.fromkeys(keep_columns))
    with open_model(model_uri) as model:
        needed = model_columns(model.path)
        archive = pack_model(model.path, settings.env_root)
    _check_columns(spark_df.columns, needed, keep)
    spark_df.sparkSession.sparkContext.addFile(str(archive))
    schema = types.StructType(
        [spark_df.schema[name] for name in keep]
        + [types.StructField(name, types.DoubleType(), True) for name in needed.outputs]
    )
    scorer = PartitionScorer(
        archive.name,
        needed.inputs,
        keep,
        needed.outputs,
        batch_size or settings.batch_size,
        row_counter,
    )
    columns: List[str] = list(dict.fromkeys([*keep, *needed.inputs]))
    return spark_df.select(*columns).mapInArrow(scorer, schema)


class SparkMissingError(DaiMlflowError):
    """pyspark is not installed where Spark scoring was asked for."""

    def __init__(self) -> None:
        super().__init__(
            "Spark scoring needs pyspark, which is not installed in this Python.",
            tip="pip install 'h2o-dai-py-scoring-mlflow[spark]' (or use --engine local).",
        )
