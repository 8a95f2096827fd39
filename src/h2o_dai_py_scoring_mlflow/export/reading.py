"""Open a DAI scoring-pipeline export (a folder or a .zip), safely, and read what matters in it.

A zip may hold the files in one top folder or flat; it is extracted into a temporary folder that
is removed afterwards. Its listing is checked before anything is written: no absolute paths,
``..`` or links, no duplicate entries, a scorer wheel present, at most
:data:`MAX_EXTRACTED_BYTES` in all, no entry compressed more than :data:`MAX_RATIO` times (zip
bombs), and room for it on the disk. ``dbfs:/`` paths are read through the ``/dbfs`` FUSE mount.
"""

from __future__ import annotations

import ast
import contextlib
import fnmatch
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Tuple

from ..errors import ExportError
from ..scratch import scratch_dir
from .wheels import check_wheels

if TYPE_CHECKING:
    import pandas as pd

SCORER_WHEEL_GLOB = "scoring_h2oai_experiment_*.whl"
# A DAI 1.10 export is a few hundred MB; its wheels compress 2-5 times.
MAX_EXTRACTED_BYTES = 4 * 2**30
MAX_RATIO = 100
_ENCRYPTED = 0x1  # general purpose flag bit 0 of a zip entry
_RATIO_FLOOR = 2**20  # smaller entries may compress as well as they like
_UNSAFE_TIP = "The archive is unsafe; download the export from Driverless AI again."
_EXAMPLE_TIP = "Restore example.py from the scoring pipeline that Driverless AI exported."
_TIP = "Pass the scoring-pipeline/ folder or the scorer.zip that Driverless AI exported."


def local_path(location: str) -> Path:
    """``dbfs:/x`` -> ``/dbfs/x``; anything else as a local path."""
    if location.startswith("dbfs:/"):
        return Path("/dbfs") / location[len("dbfs:/") :].lstrip("/")
    return Path(location).expanduser()


def _check_member(archive: Path, info: zipfile.ZipInfo) -> None:
    name = PurePosixPath(info.filename)
    if name.is_absolute() or ".." in name.parts or info.filename.startswith("\\"):
        raise ExportError(
            f"{archive}: entry {info.filename!r} would be written outside the export folder; "
            "nothing was extracted.",
            tip=_UNSAFE_TIP,
        )
    if info.flag_bits & _ENCRYPTED:
        raise ExportError(
            f"{archive}: entry {info.filename!r} is encrypted; nothing was extracted.",
            tip="Export the scoring pipeline from Driverless AI again, without a password.",
        )
    if stat.S_ISLNK(info.external_attr >> 16):
        raise ExportError(
            f"{archive}: entry {info.filename!r} is a symbolic link; nothing was extracted.",
            tip=_UNSAFE_TIP,
        )


def _check_listing(archive: Path, members: List[zipfile.ZipInfo], target: Path) -> None:
    """Everything that can be known before writing a byte."""
    names = [PurePosixPath(info.filename).name for info in members]
    if not any(fnmatch.fnmatch(name, SCORER_WHEEL_GLOB) for name in names):
        raise ExportError(f"No {SCORER_WHEEL_GLOB} in {archive}; nothing was extracted.", tip=_TIP)
    seen = set()
    for info in members:
        _check_member(archive, info)
        key = info.filename.rstrip("/")
        if key in seen:
            raise ExportError(
                f"{archive}: entry {info.filename!r} appears twice (the second would silently "
                "replace the first); nothing was extracted.",
                tip=_UNSAFE_TIP,
            )
        seen.add(key)
        if info.file_size > _RATIO_FLOOR and info.file_size > MAX_RATIO * max(
            info.compress_size, 1
        ):
            raise ExportError(
                f"{archive}: entry {info.filename!r} expands {info.compress_size:,} bytes into "
                f"{info.file_size:,} (more than {MAX_RATIO} times, a zip bomb's mark); nothing "
                "was extracted.",
                tip=_UNSAFE_TIP,
            )
    total = sum(info.file_size for info in members)
    if total > MAX_EXTRACTED_BYTES:
        raise ExportError(
            f"{archive}: would extract {total:,} bytes, more than the {MAX_EXTRACTED_BYTES:,}-byte "
            "limit; nothing was extracted.",
            tip="Check that this is a DAI scoring pipeline export.",
        )
    free = shutil.disk_usage(target).free
    if total > free:
        raise ExportError(
            f"{archive}: would extract {total:,} bytes, and {target} has {free:,} bytes free; "
            "nothing was extracted.",
            tip="Free disk space, or set TMPDIR to a folder with room.",
        )


def _extract(archive: Path, target: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as bundle:
            _check_listing(archive, bundle.infolist(), target)
            bundle.extractall(target)
    except zipfile.BadZipFile as exc:
        raise ExportError(f"{archive} is not a valid zip file ({exc}).", tip=_TIP) from None
    except NotImplementedError as exc:
        raise ExportError(f"{archive}: cannot extract it ({exc}).", tip=_UNSAFE_TIP) from None


def _pipeline_root(location: Path, searched: Path) -> Path:
    wheels = sorted(searched.rglob(SCORER_WHEEL_GLOB))
    folders = sorted({w.parent for w in wheels})
    if not wheels:
        raise ExportError(f"No {SCORER_WHEEL_GLOB} in {location}.", tip=_TIP)
    if len(folders) > 1:
        raise ExportError(f"{location} holds more than one scoring pipeline folder.", tip=_TIP)
    return folders[0]


@contextlib.contextmanager
def open_export(location: str) -> Iterator[ScoringPipeline]:
    """The export at ``location`` (folder, scorer.zip or dbfs:/ path), checked; zips are extracted
    to a temporary folder that is removed when the block ends."""
    path = local_path(location)
    if path.is_dir():
        root = path if any(path.glob(SCORER_WHEEL_GLOB)) else _pipeline_root(path, path)
        yield open_pipeline_folder(root)
        return
    if not path.exists():
        raise ExportError(f"{location} does not exist.", tip=_TIP)
    if not zipfile.is_zipfile(path):
        zip_named = path.suffix.lower() == ".zip"
        what = "is not a valid zip file (corrupt or truncated)" if zip_named else "is not a folder"
        raise ExportError(f"{path} {what}.", tip=_TIP)
    with scratch_dir("export") as scratch:
        _extract(path, scratch)
        yield open_pipeline_folder(_pipeline_root(path, scratch))


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
        raise ExportError(f"{folder} is not a folder.", tip=_TIP)
    wheels = sorted(folder.glob(SCORER_WHEEL_GLOB))
    if not wheels:
        raise ExportError(f"No {SCORER_WHEEL_GLOB} in {folder}.", tip=_TIP)
    if len(wheels) > 1:
        names = ", ".join(w.name for w in wheels)
        raise ExportError(
            f"{folder} holds {len(wheels)} scorer wheels ({names}); expected exactly one.",
            tip="Keep only the wheel of the experiment you want to deploy.",
        )
    check_wheels(folder)
    return ScoringPipeline(folder=folder, scorer_wheel=wheels[0])


def _series_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "Series"
        and bool(node.args)
    )


def _literal(example_py: Path, node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise ExportError(
            f"{example_py} line {node.lineno}: the example rows must be literal values.",
            tip=_EXAMPLE_TIP,
        ) from None


def example_columns(example_py: Path) -> List[Tuple[str, str, List[Any]]]:
    """``(name, dtype, values)`` of each ``pd.Series([...], name=..., dtype=...)`` in example.py."""
    try:
        tree = ast.parse(example_py.read_bytes(), filename=str(example_py))
    except FileNotFoundError:
        raise ExportError(f"{example_py} is missing.", tip=_EXAMPLE_TIP) from None
    except (SyntaxError, ValueError) as exc:
        line = f" line {exc.lineno}" if isinstance(exc, SyntaxError) else ""
        raise ExportError(f"{example_py}{line}: not valid Python.", tip=_EXAMPLE_TIP) from None
    columns = []
    for node in ast.walk(tree):
        if not _series_call(node):
            continue
        assert isinstance(node, ast.Call)
        keywords: Dict[str, Any] = {}
        for keyword in node.keywords:
            if keyword.arg in ("name", "dtype"):
                keywords[keyword.arg] = _literal(example_py, keyword.value)
        if "name" in keywords:
            values = _literal(example_py, node.args[0])
            columns.append(
                (str(keywords["name"]), str(keywords.get("dtype", "object")), list(values))
            )
    if not columns:
        raise ExportError(
            f"{example_py} has no pd.Series(..., name=...) example rows.", tip=_EXAMPLE_TIP
        )
    return columns


def example_frame(example_py: Path) -> pd.DataFrame:
    """example.py's rows as a DataFrame, each column with the dtype example.py gives it."""
    import pandas as pd  # noqa: PLC0415  # callers that only read the export stay pandas-free

    columns = example_columns(example_py)
    return pd.concat([pd.Series(v, name=n, dtype=d) for n, d, v in columns], axis=1)
