"""`dai-mlflow score --engine spark`: read a file with Spark, score it with ``score_spark``, write
the result as Spark does (a folder of part files at the output path), atomically: into a
temporary folder beside it, renamed into place only when every part is written.

CSV is read with every column as text (the model's signature coerces per column, an empty cell
is missing), Parquet and JSON lines with their own types. The session is local unless a Spark
master is given or one is already running (on Databricks: the cluster's).

Scoring costs milliseconds a row, so even a small file is worth every core: the input is split
into at least one partition per core (by letting Spark cut files finer than its 4 MB default,
which keeps a file's rows in order across the part files; a file that cannot be cut, such as a
Parquet file with one row group, is shuffled into that many partitions instead).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Optional

from ..batch.job import CSV, JSON_LINES, PARQUET, file_format
from ..batch.launch import ScoreRequest, ScoreSummary
from ..errors import ScoreInputError
from ..export.reading import local_path
from ..settings import Settings
from .scoring import SparkMissingError, score_spark


def _session(master: Optional[str]) -> Any:
    try:
        from pyspark.sql import SparkSession  # noqa: PLC0415  # the [spark] extra
    except ImportError:
        raise SparkMissingError() from None
    builder = SparkSession.builder.appName("dai-mlflow score")
    if master:
        builder = builder.master(master)
    if master and not master.startswith("local"):
        return builder.getOrCreate()
    with local_python_workers():
        return builder.getOrCreate()


@contextlib.contextmanager
def local_python_workers() -> Iterator[None]:
    """While a local Spark starts: its Python workers are to run this very Python (which has this
    package, also as an editable install), not whatever `python3` is on PATH. PySpark reads
    PYSPARK_PYTHON when its context starts; a value the user set is kept."""
    if os.environ.get("PYSPARK_PYTHON"):
        yield
        return
    os.environ["PYSPARK_PYTHON"] = sys.executable
    try:
        yield
    finally:
        del os.environ["PYSPARK_PYTHON"]


# Spark cuts files into pieces no smaller than this "open cost" (4 MB by default); a piece of
# rows to score is worth far less than opening a file costs Spark to plan.
_SMALLEST_PIECE = str(256 * 1024)
_PIECE_SETTING = "spark.sql.files.openCostInBytes"


@contextlib.contextmanager
def split_for_cores(spark: Any) -> Iterator[None]:
    """While the job runs, let Spark cut input files into one piece per core even when small;
    the session's own setting is put back afterwards."""
    before = spark.conf.get(_PIECE_SETTING, None)
    spark.conf.set(_PIECE_SETTING, _SMALLEST_PIECE)
    try:
        yield
    finally:
        if before is None:
            spark.conf.unset(_PIECE_SETTING)
        else:
            spark.conf.set(_PIECE_SETTING, before)


def _one_partition_per_core(spark: Any, frame: Any) -> Any:
    cores = int(spark.sparkContext.defaultParallelism)
    if frame.rdd.getNumPartitions() >= cores:
        return frame
    return frame.repartition(cores)


def _read(spark: Any, path: Path, kind: str) -> Any:
    if kind == CSV:
        return spark.read.option("header", True).option("inferSchema", False).csv(str(path))
    if kind == PARQUET:
        return spark.read.parquet(str(path))
    if kind == JSON_LINES:
        return spark.read.json(str(path))
    raise ScoreInputError(f"Spark cannot read {path}.", tip="Use CSV, Parquet or JSON lines.")


def _write(frame: Any, path: Path, kind: str) -> None:
    writer = frame.write.mode("errorifexists")
    if kind == CSV:
        writer.option("header", True).csv(str(path))
    elif kind == PARQUET:
        writer.parquet(str(path))
    else:
        writer.json(str(path))


def score_file_with_spark(
    settings: Settings, request: ScoreRequest, *, master: Optional[str] = None
) -> ScoreSummary:
    """Score ``request.input_path`` with Spark into a folder of part files at its output path."""
    if not request.model_uri:
        raise ScoreInputError(
            "--engine spark scores with a logged model: pass --model-uri.",
            tip="Log the export first (dai-mlflow log-model), or use --engine local.",
        )
    input_path = local_path(request.input_path).resolve()
    output_path = local_path(request.output_path).resolve()
    batch_size = request.batch_size or settings.batch_size
    in_format = file_format(input_path, "input")
    out_format = file_format(output_path, "output")
    if not input_path.exists():
        raise ScoreInputError(
            f"The input {input_path} does not exist.",
            tip="Pass an existing CSV, Parquet or JSON lines file (or a folder of them).",
        )
    spark = _session(master)
    started = time.monotonic()
    partial = output_path.with_name(f".{output_path.name}.{os.getpid()}.dai-mlflow-partial")
    with split_for_cores(spark):
        frame = _one_partition_per_core(spark, _read(spark, input_path, in_format.kind))
        counter = spark.sparkContext.accumulator(0)
        scored = score_spark(
            frame,
            request.model_uri,
            keep_columns=request.keep_columns,
            batch_size=batch_size,
            row_counter=counter,
        )
        try:
            _write(scored, partial, out_format.kind)
            if output_path.is_dir():
                shutil.rmtree(output_path)
            elif output_path.exists():
                output_path.unlink()
            partial.rename(output_path)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    seconds = time.monotonic() - started
    rows = int(counter.value)
    return ScoreSummary(
        rows=rows,
        batches=0,
        seconds=seconds,
        rows_per_second=rows / max(seconds, 1e-9),
        output_path=str(output_path),
        prediction_columns=[c for c in scored.columns if c not in request.keep_columns],
        batch_size=batch_size,
    )
