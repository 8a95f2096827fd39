"""The synthetic DAI export builder: the embedded demo default and every test's fixture.

Runs on the caller's Python (numpy and pandas; imported on first use so that importing this
package, e.g. for :data:`KINDS` by the CLI, stays light). ``wheel_sources/`` is not run here: it
becomes the export's two wheels and runs in the export's scorer environment. May import
``errors`` and its own modules only.
"""

from typing import TYPE_CHECKING, Any

from .kinds import KINDS

if TYPE_CHECKING:
    from .builder import LICENSE_NAME, PIPELINE_FOLDER, ZIP_NAME, SampleResult, build_sample

__all__ = ["KINDS", "LICENSE_NAME", "PIPELINE_FOLDER", "ZIP_NAME", "SampleResult", "build_sample"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import builder  # noqa: PLC0415

        return getattr(builder, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
