"""Property tests (hypothesis) for reading CSV inputs and coercing them to the model's schema."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Callable, List, Optional

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from h2o_dai_py_scoring_mlflow.batch.formats import open_reader
from h2o_dai_py_scoring_mlflow.batch.job import ColumnSpec, file_format
from h2o_dai_py_scoring_mlflow.batch.loop import ColumnPlan
from h2o_dai_py_scoring_mlflow.errors import ScoreInputError

# What pandas reads as a missing value; a text cell holding one comes back missing.
PANDAS_MISSING = {
    *("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND"),
    *("1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"),
}
TEXT = st.text(
    alphabet=st.sampled_from(list('ab Z,"\n;\t\u00e9\u20ac\U0001f600019.-')), max_size=12
)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Path]:
    return lambda: tmp_path_factory.mktemp("example")


def _write(path: Path, header: List[str], rows: List[List[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


@settings(max_examples=120, deadline=None)
@given(
    st.integers(min_value=1, max_value=4),
    st.integers(min_value=0, max_value=30),
    st.integers(min_value=1, max_value=7),
    st.data(),
)
def test_csv_text_columns_read_back_exactly_in_any_batch_size(
    scratch: Callable[[], Path], used: int, unused: int, batch_size: int, data: st.DataObject
) -> None:
    names = [f"t{i}" for i in range(used)]
    header = names + [f"u{i}" for i in range(unused)]
    rows = data.draw(
        st.lists(st.lists(TEXT, min_size=len(header), max_size=len(header)), max_size=20)
    )
    path = scratch() / "in.csv"
    _write(path, header, rows)
    reader = open_reader(path, file_format(path, "input"), batch_size)
    assert reader.header() == header
    frames = list(reader.batches(names, names))
    reader.close()
    read = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=names)
    assert list(read.columns) == names and len(read) == len(rows)
    for column, name in enumerate(names):
        expected = [None if row[column] in PANDAS_MISSING else row[column] for row in rows]
        got = [None if pd.isna(value) else value for value in read[name]]
        assert got == expected


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.lists(TEXT, min_size=3, max_size=3), min_size=1, max_size=10),
    st.data(),
)
def test_a_row_with_a_non_empty_extra_field_is_refused_by_its_number(
    scratch: Callable[[], Path], rows: List[List[str]], data: st.DataObject
) -> None:
    at = data.draw(st.integers(min_value=0, max_value=len(rows) - 1))
    rows[at] = [*rows[at], "extra"]
    path = scratch() / "in.csv"
    _write(path, ["a", "b", "c"], rows)
    reader = open_reader(path, file_format(path, "input"), 3)
    with pytest.raises(ScoreInputError, match=f"data row {at + 1} has more fields than the 3"):
        list(reader.batches(["a"], ["a"]))
    reader.close()


NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.none(),
)


def _as_cell(value: Optional[float]) -> object:
    return "" if value is None else str(value)


@settings(max_examples=150, deadline=None)
@given(st.lists(NUMBERS, min_size=1, max_size=30), st.integers(min_value=1, max_value=10**6))
def test_numeric_text_coerces_to_the_same_number_and_blanks_to_missing(
    values: List[Optional[float]], first_row: int
) -> None:
    plan = ColumnPlan([ColumnSpec("x", "double", "float64")], [], Path("in.csv"))
    frame = pd.DataFrame({"x": pd.Series([_as_cell(v) for v in values], dtype=object)})
    got = plan.prepare(frame, first_row)["x"].tolist()
    for value, coerced in zip(values, got):
        if value is None:
            assert math.isnan(coerced)
        else:
            assert coerced == float(value)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(NUMBERS, min_size=1, max_size=30),
    st.data(),
    st.text(min_size=1, max_size=5000).filter(
        lambda t: t.strip() != "" and math.isnan(pd.to_numeric(pd.Series([t]), errors="coerce")[0])
    ),
    st.integers(min_value=1, max_value=10**6),
)
def test_a_value_that_is_not_a_number_is_named_by_row_and_column(
    values: List[Optional[float]], data: st.DataObject, bad: str, first_row: int
) -> None:
    at = data.draw(st.integers(min_value=0, max_value=len(values) - 1))
    cells: List[object] = [_as_cell(v) for v in values]
    cells[at] = bad
    plan = ColumnPlan([ColumnSpec("the col", "double", "float32")], [], Path("in.csv"))
    frame = pd.DataFrame({"the col": pd.Series(cells, dtype=object)})
    with pytest.raises(ScoreInputError) as raised:
        plan.prepare(frame, first_row)
    message = raised.value.message
    assert f"row {first_row + at}, column 'the col'" in message
    assert "(the model's schema says float32)" in message and len(message) < 400
