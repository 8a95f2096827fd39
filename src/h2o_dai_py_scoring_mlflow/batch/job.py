"""A batch scoring job: its files, formats by extension, the checks made before any work, and
what the launcher tells the inside process.

Runs on both sides: the caller checks the paths before it builds the Python 3.8 environment (so a
wrong path or extension fails at once) and writes a :class:`ScorerJob`; the inside process, in the
export's scorer environment, reads it back. Standard library only.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Tuple

from ..errors import ScoreInputError

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


@dataclass(frozen=True)
class ColumnSpec:
    """One input column of the model: its name, its MLflow type (``double``, ``long``,
    ``boolean`` or ``string``) and the dtype the export declares (named in error messages)."""

    name: str
    kind: str
    dtype: str


@dataclass(frozen=True)
class ExampleValue:
    """One value of example.py's first row, with the dtype example.py gives its column."""

    name: str
    dtype: str
    value: Any


@dataclass(frozen=True)
class ScorerJob:
    """Everything the inside process needs, so that it reads nothing of the export but its
    installed scorer: the files, the export's columns, the scorer module, example.py's first row
    (whose predictions name the output columns of a header-only input), the shims, and the
    process it must not outlive."""

    batch: BatchJob
    columns: Tuple[ColumnSpec, ...]
    scorer_module: str
    example_row: Tuple[ExampleValue, ...]
    shims: Path
    apply_data_recipes: bool
    parent_pid: int
    diag: bool = False

    def to_json(self) -> str:
        data = asdict(self)
        data["batch"]["input_path"] = str(self.batch.input_path)
        data["batch"]["output_path"] = str(self.batch.output_path)
        data["shims"] = str(self.shims)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> ScorerJob:
        data: Dict[str, Any] = json.loads(text)
        batch = data["batch"]
        return cls(
            batch=BatchJob(
                Path(batch["input_path"]),
                Path(batch["output_path"]),
                int(batch["batch_size"]),
                tuple(str(name) for name in batch["keep_columns"]),
            ),
            columns=tuple(ColumnSpec(**column) for column in data["columns"]),
            scorer_module=str(data["scorer_module"]),
            example_row=tuple(ExampleValue(**value) for value in data["example_row"]),
            shims=Path(data["shims"]),
            apply_data_recipes=bool(data["apply_data_recipes"]),
            parent_pid=int(data["parent_pid"]),
            diag=bool(data["diag"]),
        )


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
