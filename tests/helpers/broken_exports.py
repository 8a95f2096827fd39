"""Named broken DAI exports, made from a good sample folder (like pypa/build's test-bad-*)."""

from __future__ import annotations

import shutil
import stat
import zipfile
from pathlib import Path
from typing import Callable, Dict


def _copy(good: Path, target: Path) -> Path:
    folder = target / "scoring-pipeline"
    shutil.copytree(good, folder)
    return folder


def missing_scorer_wheel(good: Path, target: Path) -> Path:
    folder = _copy(good, target)
    next(folder.glob("scoring_h2oai_experiment_*.whl")).unlink()
    return folder


def two_scorer_wheels(good: Path, target: Path) -> Path:
    folder = _copy(good, target)
    wheel = next(folder.glob("scoring_h2oai_experiment_*.whl"))
    shutil.copy(wheel, folder / "scoring_h2oai_experiment_other-1.0.0-py3-none-any.whl")
    return folder


def wheel_missing_from_folder(good: Path, target: Path) -> Path:
    folder = _copy(good, target)
    next(folder.glob("h2oaicore-*.whl")).unlink()
    return folder


def corrupt_zip(good: Path, target: Path) -> Path:
    path = target / "scorer.zip"
    path.write_bytes(b"PK\x03\x04" + b"\x00garbage" * 100)
    return path


def empty_zip(good: Path, target: Path) -> Path:
    path = target / "scorer.zip"
    with zipfile.ZipFile(path, "w"):
        pass
    return path


def zip_slip(good: Path, target: Path) -> Path:
    path = target / "scorer.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(good.iterdir()):
            archive.write(file, f"scoring-pipeline/{file.name}")
        archive.writestr("scoring-pipeline/../../escaped.txt", "owned")
    return path


def zip_symlink(good: Path, target: Path) -> Path:
    path = target / "scorer.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(good.iterdir()):
            archive.write(file, f"scoring-pipeline/{file.name}")
        link = zipfile.ZipInfo("scoring-pipeline/passwd")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    return path


def _zipped_with(good: Path, target: Path, extra: Callable[[zipfile.ZipFile], None]) -> Path:
    path = target / "scorer.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(good.iterdir()):
            archive.write(file, f"scoring-pipeline/{file.name}")
        extra(archive)
    return path


def zip_bomb(good: Path, target: Path) -> Path:
    """A good export plus 64 MiB of zeros that compress to about 64 KB."""
    return _zipped_with(
        good, target, lambda a: a.writestr("scoring-pipeline/padding.bin", b"\0" * 64 * 2**20)
    )


def zeros_without_scorer(good: Path, target: Path) -> Path:
    """Only 64 MiB of zeros: refused from the listing, before a byte is written."""
    path = target / "scorer.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\0" * 64 * 2**20)
    return path


def duplicate_entry(good: Path, target: Path) -> Path:
    """A second requirements.txt later in the archive, which extraction would let win."""
    return _zipped_with(
        good,
        target,
        lambda a: a.writestr("scoring-pipeline/requirements.txt", "evil-package==6.6.6\n"),
    )


def no_example_no_stats(good: Path, target: Path) -> Path:
    folder = _copy(good, target)
    (folder / "example.py").unlink()
    return folder


BROKEN: Dict[str, Callable[[Path, Path], Path]] = {
    "missing-scorer-wheel": missing_scorer_wheel,
    "two-scorer-wheels": two_scorer_wheels,
    "wheel-missing-from-folder": wheel_missing_from_folder,
    "corrupt-zip": corrupt_zip,
    "empty-zip": empty_zip,
    "zip-slip": zip_slip,
    "zip-symlink": zip_symlink,
    "no-example-no-stats": no_example_no_stats,
    "zip-bomb": zip_bomb,
    "zeros-without-scorer": zeros_without_scorer,
    "duplicate-entry": duplicate_entry,
}
