"""The synthetic DAI export builder: the embedded demo default and every test's fixture.

The builder needs numpy and pandas; it is imported on first use so that importing this package
(for :data:`KINDS`, e.g. by the CLI) stays light.
"""

from typing import TYPE_CHECKING, Any

KINDS = ("binary", "multiclass", "regression", "timeseries")

if TYPE_CHECKING:
    from .builder import LICENSE_NAME, PIPELINE_FOLDER, ZIP_NAME, SampleResult, build_sample

__all__ = ["KINDS", "LICENSE_NAME", "PIPELINE_FOLDER", "ZIP_NAME", "SampleResult", "build_sample"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import builder  # noqa: PLC0415

        return getattr(builder, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
