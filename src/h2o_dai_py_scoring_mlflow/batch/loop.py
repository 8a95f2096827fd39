"""Score a file in bounded memory. Runs inside Python 3.8 with the export's scorer.

Columns are checked against the export's input schema before anything is written; values are
coerced per that schema (a value that cannot be is reported with its column and row); rows are
read, scored and appended ``batch_size`` at a time to a temporary file beside the target, which
is renamed to the target only when every row is written. Row numbers in messages count data rows
from 1 (the header of a CSV is not a row).
"""

from __future__ import annotations

import collections
import contextlib
import difflib
import errno
import logging
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

from ..errors import DaiMlflowError, ScoreInputError
from .formats import BatchWriter, open_reader, open_writer
from .job import BatchJob, ColumnSpec, FileFormat, check_paths

LOG = logging.getLogger(__name__)
PARTIAL_SUFFIX = ".dai-mlflow-partial"
NUMERIC_TYPES = ("double", "long", "float", "integer")
_BOOLEANS = {"true": True, "t": True, "yes": True, "1": True, "1.0": True}
_BOOLEANS.update({"false": False, "f": False, "no": False, "0": False, "0.0": False})
_SHOWN_CHARS = 60  # of a bad value in an error message (a field may be megabytes long)
_ROW_TIP = "Rows count data rows from 1 (a CSV header is not a row)."


class ScorerFailedError(DaiMlflowError):
    """The export's own scorer raised while scoring a batch."""


@dataclass(frozen=True)
class BatchResult:
    """What a finished job did."""

    rows: int
    batches: int
    seconds: float
    output_path: str
    prediction_columns: List[str]
    ignored_columns: List[str] = field(default_factory=list)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


class Progress:
    """Rows done, rows/s and ETA on a stream, at most once per ``interval`` seconds."""

    def __init__(
        self,
        stream: IO[str],
        *,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._interval = interval
        self._clock = clock
        self._started = clock()
        self._last = self._started

    def elapsed(self) -> float:
        return self._clock() - self._started

    def update(self, rows: int, fraction: Optional[float]) -> None:
        now = self._clock()
        if now - self._last < self._interval:
            return
        self._last = now
        elapsed = now - self._started
        rate = rows / elapsed if elapsed > 0 else 0.0
        line = f"dai-mlflow: scored {rows:,} rows ({rate:,.0f} rows/s"
        if fraction is not None and 0 < fraction < 1:
            remaining = elapsed * (1 - fraction) / fraction
            line += f", {fraction:.0%} of the input, ETA {_duration(remaining)}"
        self._stream.write(line + ")\n")
        self._stream.flush()


def _duration(seconds: float) -> str:
    whole = math.ceil(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


class ColumnPlan:
    """Which columns to read, how to coerce them, and the output's layout."""

    def __init__(
        self, columns: Sequence[ColumnSpec], keep_columns: Sequence[str], source: Path
    ) -> None:
        self.columns = tuple(columns)
        self.names = [column.name for column in self.columns]
        self.keep = list(dict.fromkeys(keep_columns))
        self.source = source
        numeric = {c.name for c in self.columns if c.kind != "string"}
        self.read_columns = list(dict.fromkeys(self.names + self.keep))
        self.text_columns = [name for name in self.read_columns if name not in numeric]

    def check(self, available: Sequence[str], *, warn: bool = True) -> List[str]:
        """Raise naming every missing column; return (and warn about) the ignored ones."""
        present = collections.Counter(available)
        repeated = [name for name in self.read_columns if present[name] > 1]
        if repeated:
            raise ScoreInputError(
                f"{self.source} names the column(s) {', '.join(repr(r) for r in repeated)} more "
                "than once, so which one the model should read is ambiguous; nothing was written.",
                tip="Rename or drop the repeated column(s) so that each name appears once.",
            )
        missing = [name for name in self.names if name not in present]
        if missing:
            raise ScoreInputError(
                f"{self.source} lacks the model's input column(s): "
                f"{', '.join(repr(m) for m in missing)}; nothing was written.",
                tip=_close_matches(missing, available)
                or f"The model needs: {', '.join(self.names)} (order does not matter).",
            )
        absent = [name for name in self.keep if name not in present]
        if absent:
            raise ScoreInputError(
                f"keep_columns names column(s) that {self.source} does not have: "
                f"{', '.join(repr(a) for a in absent)}; nothing was written.",
                tip=_close_matches(absent, available)
                or f"The input's columns are: {', '.join(available)}.",
            )
        read = set(self.read_columns)
        ignored = [name for name in available if name not in read]
        if ignored and warn:
            shown = ", ".join(repr(i) for i in ignored[:10])
            more = f" and {len(ignored) - 10} more" if len(ignored) > 10 else ""
            LOG.warning(
                "ignoring %d input column(s) the model does not use: %s%s",
                len(ignored),
                shown,
                more,
            )
        return ignored

    def prepare(self, frame: pd.DataFrame, first_row: int) -> pd.DataFrame:
        """The model's columns in schema order, coerced to the schema's types."""
        columns: Dict[str, Any] = {}
        for column in self.columns:
            values = frame[column.name]
            if column.kind in NUMERIC_TYPES:
                columns[column.name] = self._numeric(values, column, first_row)
            elif column.kind == "boolean":
                columns[column.name] = self._boolean(values, column, first_row)
            else:
                columns[column.name] = _text(values)
        return pd.DataFrame(columns, index=frame.index)

    def target_among_inputs(self, prediction_columns: Sequence[str]) -> Optional[str]:
        """The input column that is also the predicted target (DAI time-series experiments take
        their target as an input, for test-time augmentation), if any."""
        for name in self.names:
            if any(p == name or p.startswith(name + ".") for p in prediction_columns):
                return name
        return None

    def output_frame(self, frame: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
        """Kept input columns, then the prediction columns."""
        clash = [name for name in self.keep if name in predictions.columns]
        if clash:
            raise ScoreInputError(
                f"keep_columns {', '.join(repr(c) for c in clash)} has the name of a "
                "prediction column; nothing was written.",
                tip="Keep a differently named id column, or rename the input column.",
            )
        kept = frame[self.keep].reset_index(drop=True)
        return pd.concat([kept, predictions.reset_index(drop=True)], axis=1)

    def _numeric(self, values: pd.Series, column: ColumnSpec, first_row: int) -> pd.Series:
        if values.dtype.kind in "iuf":
            return values
        if values.dtype.kind == "b":
            return values.astype("float64")
        converted = pd.to_numeric(values, errors="coerce")
        self._report(values, converted, column, first_row, "a number")
        return converted

    def _boolean(self, values: pd.Series, column: ColumnSpec, first_row: int) -> pd.Series:
        if values.dtype.kind == "b":
            return values
        lowered = values.map(lambda v: str(v).strip().lower() if _present(v) else None)
        converted = lowered.map(_BOOLEANS)
        self._report(values, converted, column, first_row, "true or false")
        return converted.astype(object).where(converted.notna(), None)

    def _report(
        self,
        values: pd.Series,
        converted: pd.Series,
        column: ColumnSpec,
        first_row: int,
        expected: str,
    ) -> None:
        blank = values.map(lambda v: isinstance(v, str) and not v.strip())
        bad = (converted.isna() & values.notna() & ~blank).to_numpy()
        if not bad.any():
            return
        positions = np.flatnonzero(bad)
        value = values.iloc[int(positions[0])]
        row = first_row + int(positions[0])
        others = len(positions) - 1
        also = f" ({others} more in rows {row + 1}-{first_row + len(values) - 1})" if others else ""
        raise ScoreInputError(
            f"{self.source}: row {row}, column {column.name!r}: {_shown(value)} is not {expected} "
            f"(the model's schema says {column.dtype}){also}; nothing was written.",
            tip="Fix the value or leave it empty (missing values are allowed). " + _ROW_TIP,
        )


def _shown(value: Any) -> str:
    """``value`` as a message shows it: its repr, cut to :data:`_SHOWN_CHARS` characters."""
    text = repr(value)
    if len(text) <= _SHOWN_CHARS:
        return text
    return f"{text[:_SHOWN_CHARS]}... ({len(str(value)):,} characters)"


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _text(values: pd.Series) -> pd.Series:
    if values.dtype == object:
        return values
    return values.map(lambda v: None if pd.isna(v) else str(v))


def _close_matches(wanted: Sequence[str], available: Sequence[str]) -> Optional[str]:
    pairs = []
    by_key = {name.strip().lower(): name for name in available}
    for name in wanted:
        match = by_key.get(name.strip().lower()) or next(
            iter(difflib.get_close_matches(name, list(available), n=1, cutoff=0.8)), None
        )
        if match is not None:
            pairs.append(f"{match!r} -> {name!r}")
    if not pairs:
        return None
    return "Rename the input's column(s) to the model's names: " + ", ".join(pairs) + "."


# What a file system that cannot sync (FUSE mounts such as /dbfs) answers; other errors count.
_SYNC_UNSUPPORTED = (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF, errno.EISDIR)


def _fsync(path: Path) -> None:
    """Flush ``path`` (a file or a folder) to the disk, where its file system can."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    except OSError as exc:
        if exc.errno not in _SYNC_UNSUPPORTED:
            raise
        LOG.debug("%s cannot be synced on its file system: %s", path, exc)
    finally:
        os.close(descriptor)


class PartialOutput:
    """Writes to ``.<name>.<pid>.dai-mlflow-partial`` beside the target; renames on commit."""

    def __init__(self, target: Path, fmt: FileFormat) -> None:
        self.target = target
        self.format = fmt
        self.partial = target.parent / f".{target.name}.{os.getpid()}{PARTIAL_SUFFIX}"
        self._writer: Optional[BatchWriter] = None

    def write(self, frame: pd.DataFrame) -> None:
        if self._writer is None:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_partials(self.target)
            self._writer = open_writer(self.partial, self.format)
        self._writer.write(frame)

    def commit(self) -> None:
        """Close, flush the bytes to the disk, then rename: after a crash the target is either
        the old file or the whole new one, never a renamed file whose blocks were not written."""
        assert self._writer is not None, "commit before any write"
        self._writer.close()
        _fsync(self.partial)
        self.partial.replace(self.target)
        _fsync(self.target.parent)
        self._writer = None

    def discard(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(OSError):
                self._writer.close()
            self._writer = None
        with contextlib.suppress(FileNotFoundError):
            self.partial.unlink()


def remove_stale_partials(target: Path) -> None:
    """Delete partial files of ``target`` left by scoring runs that were killed. Names are
    compared exactly (a target such as ``out[1].csv`` is not a pattern that could match another
    target's partials)."""
    prefix = f".{target.name}."
    if not target.parent.is_dir():
        return
    for leftover in target.parent.iterdir():
        name = leftover.name
        if not (name.startswith(prefix) and name.endswith(PARTIAL_SUFFIX)):
            continue
        pid_text = name[len(prefix) : -len(PARTIAL_SUFFIX)]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and not _alive(int(pid_text)):
            LOG.info("removing %s, left by an interrupted run", leftover)
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def score_file(
    job: BatchJob,
    columns: Sequence[ColumnSpec],
    score: Callable[[pd.DataFrame], pd.DataFrame],
    empty_predictions: Callable[[], pd.DataFrame],
    *,
    progress: Optional[Progress] = None,
    still_wanted: Callable[[], None] = lambda: None,
) -> BatchResult:
    """Score ``job.input_path`` into ``job.output_path``; see the module doc for the guarantees.

    ``columns`` are the model's input columns; ``score`` maps a prepared frame to predictions,
    one row per row; ``empty_predictions`` gives a frame whose columns are the prediction
    columns (used for a header-only input); ``still_wanted`` raises when the run should stop
    (e.g. its caller has gone away).
    """
    in_format, out_format = check_paths(job)
    meter = progress or Progress(sys.stderr)
    plan = ColumnPlan(columns, job.keep_columns, job.input_path)
    reader = open_reader(job.input_path, in_format, job.batch_size)
    output = PartialOutput(job.output_path, out_format)
    rows = batches = 0
    prediction_columns: List[str] = []
    try:
        header = reader.header()
        ignored = plan.check(header) if header is not None else None
        read = plan.read_columns if header is not None else []
        with contextlib.closing(reader.batches(read, plan.text_columns)) as frames:
            for frame in frames:
                if ignored is None:
                    ignored = plan.check([str(c) for c in frame.columns])
                elif header is None:
                    plan.check([str(c) for c in frame.columns], warn=False)
                predictions = _score(score, plan.prepare(frame, rows + 1), rows + 1)
                prediction_columns = [str(c) for c in predictions.columns]
                if batches == 0 and len(frame) == job.batch_size:
                    _warn_if_time_series(plan, prediction_columns, job.batch_size)
                still_wanted()
                output.write(plan.output_frame(frame, predictions))
                rows += len(frame)
                batches += 1
                meter.update(rows, reader.fraction_done())
                # Free this batch before the next one is read: one batch in memory, not two.
                del frame, predictions
        if batches == 0:
            predictions = empty_predictions().iloc[:0]
            prediction_columns = [str(c) for c in predictions.columns]
            kept = pd.DataFrame({name: pd.Series([], dtype=object) for name in plan.keep})
            output.write(plan.output_frame(kept, predictions))
        still_wanted()
        output.commit()
    finally:
        output.discard()
        reader.close()
    return BatchResult(
        rows=rows,
        batches=batches,
        seconds=meter.elapsed(),
        output_path=str(job.output_path),
        prediction_columns=prediction_columns,
        ignored_columns=list(ignored or []),
    )


def _warn_if_time_series(plan: ColumnPlan, prediction_columns: List[str], size: int) -> None:
    target = plan.target_among_inputs(prediction_columns)
    if target is not None:
        LOG.warning(
            "the export takes its target %r as an input (a time-series experiment): each batch "
            "of %d rows is scored on its own, so history rows in one batch do not inform the "
            "rows of the next. Sort the rows by series and use a batch size that holds whole "
            "series, or one larger than the file.",
            target,
            size,
        )


def _score(
    score: Callable[[pd.DataFrame], pd.DataFrame], prepared: pd.DataFrame, first_row: int
) -> pd.DataFrame:
    last_row = first_row + len(prepared) - 1
    try:
        predictions = score(prepared)
    except DaiMlflowError:
        raise
    except Exception as exc:
        LOG.debug("the scorer raised", exc_info=True)
        raise ScorerFailedError(
            f"The export's scorer failed on rows {first_row}-{last_row}: "
            f"{type(exc).__name__}: {exc}",
            tip="Rerun with H2O_DAI_MLFLOW_DIAG=1 for the scorer's traceback.",
        ) from exc
    if len(predictions) != len(prepared):
        raise ScorerFailedError(
            f"The export's scorer returned {len(predictions)} rows for the "
            f"{len(prepared)} rows {first_row}-{last_row}; nothing was written.",
        )
    return predictions
