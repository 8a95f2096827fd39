"""Open a DAI scoring-pipeline folder: its scorer wheel and module, and example.py's rows."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Tuple

from .errors import ExportError

SCORER_WHEEL_GLOB = "scoring_h2oai_experiment_*.whl"


@dataclass(frozen=True)
class ScoringPipeline:
    """An export folder and the names that matter in it."""

    folder: Path
    scorer_wheel: Path

    @property
    def scorer_module(self) -> str:
        """The importable module: the wheel filename before its first ``-``."""
        return self.scorer_wheel.name.split("-", 1)[0]

    @property
    def example_py(self) -> Path:
        return self.folder / "example.py"


def open_pipeline_folder(folder: Path) -> ScoringPipeline:
    """Check ``folder`` is a scoring-pipeline export with exactly one scorer wheel."""
    if not folder.is_dir():
        raise ExportError(
            f"{folder} is not a folder.",
            tip="Pass the scoring-pipeline/ folder of a DAI Python scoring pipeline export.",
        )
    wheels = sorted(folder.glob(SCORER_WHEEL_GLOB))
    if not wheels:
        raise ExportError(
            f"No {SCORER_WHEEL_GLOB} in {folder}.",
            tip="Pass the scoring-pipeline/ folder (or scorer.zip) that Driverless AI exported.",
        )
    if len(wheels) > 1:
        names = ", ".join(w.name for w in wheels)
        raise ExportError(
            f"{folder} holds {len(wheels)} scorer wheels ({names}); expected exactly one.",
            tip="Keep only the wheel of the experiment you want to deploy.",
        )
    return ScoringPipeline(folder=folder, scorer_wheel=wheels[0])


def _series_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "Series"
        and bool(node.args)
    )


def example_columns(example_py: Path) -> List[Tuple[str, str, List[Any]]]:
    """``(name, dtype, values)`` of each ``pd.Series([...], name=..., dtype=...)`` in example.py."""
    try:
        tree = ast.parse(example_py.read_text(encoding="utf-8"), filename=str(example_py))
    except FileNotFoundError:
        raise ExportError(f"{example_py} is missing.", tip="Re-download the export.") from None
    except SyntaxError as exc:
        raise ExportError(f"{example_py} line {exc.lineno}: not valid Python.") from None
    columns = []
    for node in ast.walk(tree):
        if not _series_call(node):
            continue
        assert isinstance(node, ast.Call)
        keywords: Dict[str, Any] = {}
        for keyword in node.keywords:
            if keyword.arg in ("name", "dtype"):
                keywords[keyword.arg] = ast.literal_eval(keyword.value)
        if "name" in keywords:
            values = ast.literal_eval(node.args[0])
            columns.append(
                (str(keywords["name"]), str(keywords.get("dtype", "object")), list(values))
            )
    if not columns:
        raise ExportError(f"{example_py} has no pd.Series(..., name=...) example rows.")
    return columns
