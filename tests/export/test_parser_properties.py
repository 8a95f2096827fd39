"""Property tests (hypothesis) for the export's parsers: requirements.txt lines and example.py's
Name/Type/Range table. Any text gives a result or an ExportError, never another exception."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, List, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from h2o_dai_py_scoring_mlflow.errors import ExportError
from h2o_dai_py_scoring_mlflow.export.requirements import (
    canonical_name,
    parse_requirements,
    read_requirements_file,
)
from h2o_dai_py_scoring_mlflow.export.schema import parse_example_table

NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,6}([._-][A-Za-z0-9]{1,5}){0,2}", fullmatch=True)
VERSIONS = st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}", fullmatch=True)
COMMENTS = st.sampled_from(["", "  # pinned by DAI", " # caf\u00e9"])
ENDINGS = st.sampled_from(["\n", "\r\n"])
DTYPES = st.sampled_from(["float32", "float64", "int32", "int64", "object", "bool", "str"])
COLUMN_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_ .()/-]{0,30}[A-Za-z0-9_)]", fullmatch=True)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Path]:
    """A new empty folder per example (hypothesis runs many examples in one test call)."""
    return lambda: tmp_path_factory.mktemp("example")


def _in_file(folder: Path, text: str) -> Path:
    path = folder / "requirements.txt"
    path.write_bytes(text.encode("utf-8"))
    return path


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("pin"), NAMES, VERSIONS, COMMENTS),
            st.tuples(st.just("wheel"), NAMES, VERSIONS, COMMENTS),
            st.tuples(st.just("blank"), st.just(""), st.just(""), st.just("")),
            st.tuples(st.just("comment"), st.just(""), st.just(""), COMMENTS),
        ),
        max_size=12,
    ),
    ENDINGS,
)
def test_requirement_lines_come_back_with_their_names_and_line_numbers(
    scratch: Callable[[], Path], lines: List[Tuple[str, str, str, str]], ending: str
) -> None:
    text_lines, expected = [], []
    for number, (kind, name, version, comment) in enumerate(lines, start=1):
        if kind == "pin":
            text_lines.append(f"{name}=={version}{comment}")
            expected.append((f"{name}=={version}", number, canonical_name(name), None))
        elif kind == "wheel":
            wheel = f"{name.replace('-', '_')}-{version}-cp38-cp38-linux_x86_64.whl"
            text_lines.append(wheel + comment)
            expected.append((wheel, number, canonical_name(name.replace("-", "_")), wheel))
        else:
            text_lines.append(f"#{comment}" if kind == "comment" else "   ")
    text = ending.join(text_lines) + ending
    parsed = parse_requirements(text)
    assert [(r.text, r.line_number, r.name, r.wheel) for r in parsed] == expected
    assert [
        (r.text, r.line_number)
        for r in read_requirements_file(_in_file(scratch(), "\ufeff" + text))
    ] == [(t, n) for t, n, _, _ in expected]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_requirements_text_is_read_or_refused_with_an_export_error(
    scratch: Callable[[], Path], text: str
) -> None:
    path = _in_file(scratch(), text)
    try:
        lines = read_requirements_file(path)
    except ExportError as exc:
        assert str(path) in exc.message and exc.tip
        return
    assert all(line.text and not line.text.startswith("#") for line in lines)


def _table(columns: List[Tuple[str, str, bool]], pad: int) -> str:
    width = max([len(name) for name, _, _ in columns] + [4]) + pad
    rule = "# " + "-" * (width + 40)
    rows = [
        f"# {name.ljust(width)}{dtype.ljust(10)}{'[0.0, 1.0] or None' if optional else '-'}"
        for name, dtype, optional in columns
    ]
    header = f"# {'Name'.ljust(width)}{'Type'.ljust(10)}Range"
    return "\n".join(["import pandas as pd", "", rule, header, rule, *rows, rule, "x = 1", ""])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(COLUMN_NAMES, DTYPES, st.booleans()),
        min_size=1,
        max_size=15,
        unique_by=lambda c: c[0],
    ),
    st.integers(min_value=1, max_value=8),
)
def test_example_tables_give_back_every_column_in_order(
    scratch: Callable[[], Path], columns: List[Tuple[str, str, bool]], pad: int
) -> None:
    folder = scratch()
    (folder / "example.py").write_text(_table(columns, pad))
    schema = parse_example_table(folder / "example.py")
    assert schema is not None
    assert [(c.name, c.dtype, c.optional) for c in schema.columns] == columns


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.booleans())
def test_any_example_text_gives_a_schema_none_or_an_export_error(
    scratch: Callable[[], Path], text: str, with_table: bool
) -> None:
    folder = scratch()
    prefix = "# ------------\n# Name   Type   Range\n# ------------\n" if with_table else ""
    (folder / "example.py").write_text(prefix + text, encoding="utf-8", errors="surrogatepass")
    try:
        schema = parse_example_table(folder / "example.py")
    except ExportError as exc:
        assert "example.py" in exc.message
        return
    assert schema is None or all(c.name and c.dtype for c in schema.columns)
