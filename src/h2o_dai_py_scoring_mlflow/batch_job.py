"""A batch scoring job's files: formats by extension and the checks made before any work.

Light on purpose (standard library only): the caller side runs these checks before it builds the
Python 3.8 environment, so a wrong path or extension fails at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Tuple

from .errors import ScoreInputError

CSV = "csv"
PARQUET = "parquet"
JSON_LINES = "jsonl"
_SUFFIXES = {
    ".csv": CSV,
    ".parquet": PARQUET,
    ".pq": PARQUET,
    ".jsonl": JSON_LINES,
    ".ndjson": JSON_LINES,
    ".json": JSON_LINES,
}
SUPPORTED = ".csv, .csv.gz, .parquet, .pq, .jsonl, .ndjson, .json (JSON lines), .jsonl.gz"


@dataclass(frozen=True)
class FileFormat:
    """What a path's extension says: the format and whether it is gzip-compressed."""

    kind: str
    gzip: bool

    @property
    def needs_pyarrow(self) -> bool:
        return self.kind == PARQUET


def file_format(path: Path, role: str) -> FileFormat:
    """The format of ``path`` from its extension; ``role`` (input/output) names it in errors."""
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    suffix = suffixes[-2] if compressed and len(suffixes) > 1 else (suffixes or [""])[-1]
    kind = _SUFFIXES.get(suffix)
    if kind is None or (compressed and kind == PARQUET):
        raise ScoreInputError(
            f"Cannot tell the format of the {role} file {path} from its extension.",
            tip=f"Name it with one of: {SUPPORTED}.",
        )
    return FileFormat(kind, compressed)


@dataclass(frozen=True)
class BatchJob:
    """One file to score and where to put the result."""

    input_path: Path
    output_path: Path
    batch_size: int
    keep_columns: Tuple[str, ...] = ()


def check_paths(job: BatchJob) -> Tuple[FileFormat, FileFormat]:
    """Formats of both files; the input must exist and differ from the output."""
    in_format = file_format(job.input_path, "input")
    out_format = file_format(job.output_path, "output")
    if not job.input_path.is_file():
        raise ScoreInputError(
            f"The input file {job.input_path} does not exist.",
            tip="Pass an existing CSV, Parquet or JSON lines file (dbfs:/ paths are read "
            "through /dbfs).",
        )
    if job.output_path.exists() and job.output_path.samefile(job.input_path):
        raise ScoreInputError(
            f"The output path {job.output_path} is the input file.",
            tip="Write the predictions to a new file.",
        )
    if job.output_path.is_dir():
        raise ScoreInputError(
            f"The output path {job.output_path} is a folder.", tip="Name the file to write."
        )
    folder = _existing_ancestor(job.output_path.parent)
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise ScoreInputError(
            f"Cannot write the output {job.output_path}: {folder} is not writable (or not a "
            "folder).",
            tip="Choose an output path in a folder you can write to.",
        )
    if job.batch_size < 1:
        raise ScoreInputError(
            f"batch_size must be 1 or more rows, not {job.batch_size}.",
            tip="Use the default (H2O_DAI_MLFLOW_BATCH_SIZE) or a number such as 50000.",
        )
    return in_format, out_format


def _existing_ancestor(folder: Path) -> Path:
    """``folder`` or its nearest existing parent (the output's folders are created as needed)."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder
