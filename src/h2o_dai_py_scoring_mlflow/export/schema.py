"""The export's input schema: example.py's Name/Type/Range table, else the column stats file.

Real tables look like::

    # ---------------------------------------------------------
    # Name                       Type      Range
    # ---------------------------------------------------------
    # patient_nbr                float32   [135.0, 189502624.0]
    # race                       object    -
    # num_lab_procedures         float32   [0.4, 1718.39] or None
    # ---------------------------------------------------------

Column names may contain spaces, so rows are cut at the header's ``Type`` and ``Range`` offsets.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from ..errors import ExportError

STATS_FILE = "training_data_column_stats.json"
_SCHEMA_TIP = (
    "Restore the file from the scoring pipeline that Driverless AI exported; the input schema "
    "is read from it."
)
_RULE = re.compile(r"^#\s*-{10,}\s*$")
_HEADER = re.compile(r"^#\s*Name\s+Type\s+Range\s*$")

# example.py type -> MLflow ColSpec type. Every number is a double: DAI scorers accept missing
# numeric values, and a missing value (null in JSON, an empty CSV cell, NaN) can only be a double
# (MLflow refuses NaN in long columns and refuses to narrow float64 to float32).
_MLFLOW_TYPES = {
    "float32": "double",
    "float64": "double",
    "int8": "double",
    "int16": "double",
    "int32": "double",
    "int64": "double",
    "int": "double",
    "bool": "boolean",
    "object": "string",
    "str": "string",
    "date": "string",
    "datetime": "string",
    "datetime64[ns]": "string",
}


@dataclass(frozen=True)
class InputColumn:
    """One input column as the export describes it."""

    name: str
    dtype: str
    optional: bool

    @property
    def required(self) -> bool:
        """Numeric columns that had no missing values in training must be present (their values
        may still be missing); text columns may be left out."""
        return not self.optional and self.mlflow_type != "string"

    @property
    def mlflow_type(self) -> str:
        return _MLFLOW_TYPES.get(self.dtype, "string")


@dataclass(frozen=True)
class InputSchema:
    columns: Tuple[InputColumn, ...]
    source: Path

    @property
    def names(self) -> List[str]:
        return [c.name for c in self.columns]


def _table_lines(text: str) -> Optional[List[str]]:
    lines = [line.rstrip("\n") for line in text.splitlines()]
    for index, line in enumerate(lines):
        if _HEADER.match(line.strip()) and index > 0 and _RULE.match(lines[index - 1].strip()):
            body: List[str] = []
            for row in lines[index + 2 :]:
                if _RULE.match(row.strip()) or not row.startswith("#"):
                    return [line, *body]
                body.append(row)
    return None


def parse_example_table(example_py: Path) -> Optional[InputSchema]:
    """The schema from example.py's header table, or None when the file has no table."""
    try:
        text = example_py.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    table = _table_lines(text)
    if table is None:
        return None
    header, rows = table[0], table[1:]
    type_at, range_at = header.index("Type"), header.index("Range")
    columns = []
    for row in rows:
        name = row[2:type_at].strip() if row.startswith("# ") else row[1:type_at].strip()
        dtype = row[type_at:range_at].strip()
        value_range = row[range_at:].strip()
        if not name or not dtype:
            raise ExportError(
                f"{example_py}: cannot read the schema row {row.strip()!r} (it needs a name "
                "under Name and a type under Type).",
                tip=_SCHEMA_TIP,
            )
        columns.append(InputColumn(name, dtype, value_range.endswith("or None")))
    if not columns:
        raise ExportError(
            f"{example_py}: the Name/Type/Range table lists no columns.", tip=_SCHEMA_TIP
        )
    return InputSchema(tuple(columns), example_py)


def _stats_dtype(entry: Dict[str, Any]) -> str:
    raw = entry.get("stats")
    stats: Dict[str, Any] = raw if isinstance(raw, dict) else {}
    declared = str(entry.get("data_type", "")).lower()
    if declared in ("real", "float", "float32", "float64", "double"):
        return "float64"
    if declared in ("int", "integer", "int32", "int64"):
        return "int64"
    if declared in ("bool", "boolean"):
        return "bool"
    return "float64" if stats.get("is_numeric") else "object"


def parse_stats_file(path: Path) -> Optional[InputSchema]:
    """The schema from training_data_column_stats.json (tolerates double-encoded JSON)."""
    if not path.is_file():
        return None
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, str):
            data = json.loads(data)
    except ValueError as exc:
        raise ExportError(f"{path}: not valid JSON ({exc}).", tip=_SCHEMA_TIP) from None
    if not isinstance(data, dict) or not data:
        raise ExportError(f"{path}: expected an object of columns.", tip=_SCHEMA_TIP)
    columns = tuple(
        InputColumn(str(name), _stats_dtype(entry if isinstance(entry, dict) else {}), True)
        for name, entry in data.items()
    )
    return InputSchema(columns, path)


def read_input_schema(folder: Path) -> InputSchema:
    """example.py's table, else the stats file; an ExportError when neither is usable."""
    schema = parse_example_table(folder / "example.py") or parse_stats_file(folder / STATS_FILE)
    if schema is None:
        raise ExportError(
            f"Cannot find the input schema in {folder}: no example.py with a Name/Type/Range "
            f"table and no {STATS_FILE}.",
            tip="Use the complete scoring-pipeline folder that Driverless AI exported.",
        )
    return schema
