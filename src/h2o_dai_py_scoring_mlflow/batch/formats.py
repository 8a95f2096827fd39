"""Batch file formats, chosen by extension: readers that yield bounded frames, appending writers.

Runs inside Python 3.8 with the export's own pandas (1.x in DAI 1.10 exports). CSV and JSON lines
may be gzip-compressed (``.gz``); text is UTF-8 (a byte-order mark is skipped). Parquet needs
pyarrow, which the launcher adds to the scoring environment only when a Parquet file is involved.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from typing import IO, Any, Dict, Generator, Iterator, List, Optional, Sequence, cast

import pandas as pd

from ..errors import ScoreInputError
from .job import JSON_LINES, PARQUET, FileFormat

# pandas formats a whole chunk of floats as text at once; smaller chunks keep that transient small.
_WRITE_CHUNK_ROWS = 10_000
_NOT_UTF8_TIP = "Re-save the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 in.csv > in-utf8.csv`."


class BatchReader:
    """Reads a file ``batch_size`` rows at a time; knows how far through the file it is."""

    def __init__(self, path: Path, fmt: FileFormat, batch_size: int) -> None:
        self.path = path
        self.format = fmt
        self.batch_size = batch_size
        self.rows_read = 0
        self._raw: Optional[IO[bytes]] = None
        self._size = max(path.stat().st_size, 1)

    def header(self) -> Optional[List[str]]:
        """The column names before any row is read (None for JSON lines: keys vary per line)."""
        raise NotImplementedError

    def batches(
        self, columns: Sequence[str], text_columns: Sequence[str]
    ) -> Generator[pd.DataFrame, None, None]:
        """Frames of at most ``batch_size`` rows holding ``columns`` (all of them if empty)."""
        raise NotImplementedError

    def fraction_done(self) -> Optional[float]:
        """How far through the file reading is, from 0 to 1 (None when unknown)."""
        if self._raw is None or self._raw.closed:
            return None
        return min(self._raw.tell() / self._size, 1.0)

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()

    def _open_raw(self) -> IO[bytes]:
        self._raw = self.path.open("rb")
        return self._raw

    def _text(self) -> IO[str]:
        raw = self._open_raw()
        binary = cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb")) if self.format.gzip else raw
        return io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")

    def _not_utf8(self, exc: UnicodeDecodeError) -> ScoreInputError:
        byte = exc.object[exc.start : exc.start + 1].hex() if exc.object else "??"
        return ScoreInputError(
            f"{self.path} is not UTF-8 text: byte 0x{byte} ({exc.reason}) after data row "
            f"{self.rows_read}.",
            tip=_NOT_UTF8_TIP,
        )


class _AfterLead:
    """A text stream that reads ``lead`` first, then the rest of ``rest``."""

    def __init__(self, lead: str, rest: IO[str]) -> None:
        self._lead = lead
        self._rest = rest

    def read(self, size: int = -1) -> str:
        if self._lead:
            lead, self._lead = self._lead, ""
            return lead
        return self._rest.read(size)

    def __iter__(self) -> Iterator[str]:  # pandas 1.x takes only objects that iterate as files
        if self._lead:
            lead, self._lead = self._lead, ""
            yield lead
        yield from self._rest


class CsvReader(BatchReader):
    """Reads only the columns asked for, however wide the file, and refuses a row with more
    fields than the header (with ``usecols`` pandas would silently drop the extra fields, and
    without it every column of a wide file is parsed)."""

    def header(self) -> Optional[List[str]]:
        with self._text() as text:
            return self._header_of(text)

    def _header_of(self, text: IO[str]) -> List[str]:
        try:
            return next(row for row in csv.reader(text) if row)  # blank lines skipped
        except UnicodeDecodeError as exc:
            raise self._not_utf8(exc) from None
        except StopIteration:
            raise ScoreInputError(
                f"{self.path} is empty: it has no header line.",
                tip="A CSV input needs a header line naming the columns.",
            ) from None
        except (csv.Error, OSError, EOFError) as exc:
            raise ScoreInputError(
                f"{self.path}: cannot read the header ({exc}).",
                tip="The first line must name the columns, separated by commas.",
            ) from None

    def batches(
        self, columns: Sequence[str], text_columns: Sequence[str]
    ) -> Generator[pd.DataFrame, None, None]:
        with self._text() as text:
            header = self._header_of(text)
            names = _unique_names(header, columns)
            extra = _unused_name(names)
            # A first line as wide as the names, so pandas accepts them however short rows are.
            stream = _AfterLead("," * len(names) + "\n", text)
            wanted = [*columns, extra] if columns else [*names, extra]
            dtypes = {name: str for name in [*text_columns, extra]}
            try:
                chunks = pd.read_csv(
                    cast(Any, stream),
                    header=0,
                    names=[*names, extra],
                    usecols=wanted,
                    chunksize=self.batch_size,
                    dtype=dtypes,
                )
                for chunk in chunks:
                    self._refuse_long_rows(chunk[extra], len(header))
                    self.rows_read += len(chunk)
                    yield chunk[list(columns) if columns else names]
            except UnicodeDecodeError as exc:
                raise self._not_utf8(exc) from None
            except (pd.errors.ParserError, OSError, EOFError) as exc:
                raise ScoreInputError(
                    f"{self.path}: malformed after data row {self.rows_read}: {exc}",
                    tip="Check the quoting and the number of fields on that line.",
                ) from None

    def _refuse_long_rows(self, extra: pd.Series, width: int) -> None:
        long_rows = extra.notna().to_numpy().nonzero()[0]
        if len(long_rows):
            row = self.rows_read + int(long_rows[0]) + 1
            raise ScoreInputError(
                f"{self.path}: data row {row} has more fields than the {width} columns of the "
                "header (a value with an unquoted comma?); nothing was written.",
                tip='Quote values that contain commas ("South, Coastal") or fix that line.',
            )


def _unique_names(header: Sequence[str], used: Sequence[str]) -> List[str]:
    """``header`` with repeats of unused names made unique (pandas needs unique names); a used
    name that appears twice is ambiguous and refused by :class:`ColumnPlan` before this."""
    wanted = set(used)
    seen: Dict[str, int] = {}
    names = []
    for name in header:
        count = seen.get(name, 0)
        seen[name] = count + 1
        names.append(name if count == 0 or name in wanted else f"{name}\0{count}")
    return names


def _unused_name(names: Sequence[str]) -> str:
    taken = set(names)
    return next(f"\0extra{i}" for i in range(len(taken) + 1) if f"\0extra{i}" not in taken)


class JsonLinesReader(BatchReader):
    def header(self) -> Optional[List[str]]:
        return None

    def batches(
        self, columns: Sequence[str], text_columns: Sequence[str]
    ) -> Generator[pd.DataFrame, None, None]:
        with self._text() as text:
            try:
                chunks = pd.read_json(
                    cast(Any, text),
                    lines=True,
                    chunksize=self.batch_size,
                    dtype=False,
                    convert_dates=False,
                    keep_default_dates=False,
                    precise_float=True,
                )
                for chunk in chunks:
                    self.rows_read += len(chunk)
                    yield chunk
            except UnicodeDecodeError as exc:
                raise self._not_utf8(exc) from None
            except (ValueError, OSError, EOFError) as exc:
                raise ScoreInputError(
                    f"{self.path}: not valid JSON lines after data row {self.rows_read}: {exc}",
                    tip='Each line must be one JSON object such as {"column": value, ...}.',
                ) from None


class ParquetReader(BatchReader):
    def __init__(self, path: Path, fmt: FileFormat, batch_size: int) -> None:
        super().__init__(path, fmt, batch_size)
        import pyarrow.parquet as pq  # noqa: PLC0415  # only environments that need Parquet

        try:
            self._file = pq.ParquetFile(str(path))
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise ScoreInputError(f"{path} is not a readable Parquet file ({exc}).") from None
        self.total_rows = int(self._file.metadata.num_rows)

    def header(self) -> Optional[List[str]]:
        return [str(name) for name in self._file.schema_arrow.names]

    def batches(
        self, columns: Sequence[str], text_columns: Sequence[str]
    ) -> Generator[pd.DataFrame, None, None]:
        import pyarrow as pa  # noqa: PLC0415

        for batch in self._file.iter_batches(
            batch_size=self.batch_size, columns=list(columns) or None
        ):
            self.rows_read += batch.num_rows
            yield pa.Table.from_batches([batch]).to_pandas()

    def fraction_done(self) -> Optional[float]:
        return self.rows_read / self.total_rows if self.total_rows else None


def open_reader(path: Path, fmt: FileFormat, batch_size: int) -> BatchReader:
    if fmt.kind == PARQUET:
        return ParquetReader(path, fmt, batch_size)
    if fmt.kind == JSON_LINES:
        return JsonLinesReader(path, fmt, batch_size)
    return CsvReader(path, fmt, batch_size)


class BatchWriter:
    """Appends frames to one file; the first frame fixes the columns (and Parquet types)."""

    def __init__(self, path: Path, fmt: FileFormat) -> None:
        self.path = path
        self.format = fmt
        self._started = False

    def write(self, frame: pd.DataFrame) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _TextWriter(BatchWriter):
    def __init__(self, path: Path, fmt: FileFormat) -> None:
        super().__init__(path, fmt)
        if fmt.gzip:
            # Held open across batches and closed by close() (or discarded with the file).
            self._handle: IO[str] = gzip.open(path, "wt", encoding="utf-8", newline="")  # noqa: SIM115
        else:
            self._handle = path.open("w", encoding="utf-8", newline="")

    def close(self) -> None:
        self._handle.close()


class CsvWriter(_TextWriter):
    def write(self, frame: pd.DataFrame) -> None:
        frame.to_csv(
            self._handle, header=not self._started, index=False, chunksize=_WRITE_CHUNK_ROWS
        )
        self._started = True


class JsonLinesWriter(_TextWriter):
    def write(self, frame: pd.DataFrame) -> None:
        cells = frame.astype(object).where(frame.notna(), None)
        names = [str(c) for c in frame.columns]
        lines = [
            json.dumps(dict(zip(names, row)), ensure_ascii=False, default=str) + "\n"
            for row in cells.itertuples(index=False, name=None)
        ]
        self._handle.write("".join(lines))
        self._started = True


class ParquetWriter(BatchWriter):
    def __init__(self, path: Path, fmt: FileFormat) -> None:
        super().__init__(path, fmt)
        self._writer: Any = None
        self._schema: Any = None

    def write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa  # noqa: PLC0415  # only environments that need Parquet
        import pyarrow.parquet as pq  # noqa: PLC0415

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._writer is None:
            fields = [
                pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f
                for f in table.schema
            ]
            self._schema = pa.schema(fields)
            self._writer = pq.ParquetWriter(str(self.path), self._schema)
        try:
            table = table.cast(self._schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ScoreInputError(
                f"Cannot append rows to the Parquet output: a column changed type ({exc}).",
                tip="Give kept columns one type throughout the input.",
            ) from None
        self._writer.write_table(table)
        self._started = True

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def open_writer(path: Path, fmt: FileFormat) -> BatchWriter:
    if fmt.kind == PARQUET:
        return ParquetWriter(path, fmt)
    if fmt.kind == JSON_LINES:
        return JsonLinesWriter(path, fmt)
    return CsvWriter(path, fmt)
