"""Run H2O Driverless AI Python scoring pipelines as MLflow pyfunc models under Python 3.8.

The package is a house with wings by role; each wing's ``__init__`` says which of the three
Pythons runs it (the caller's, the Project environment's, the export's scorer environment's) and
what it may import. README.md, "How it is built", has the map.
"""

from typing import Any

from .version import __version__

__all__ = [
    "__version__",
    "log_driverless_scoring_pipeline",
    "score_driverless_file",
    "score_spark",
    "predict_with_uv",
]


def __getattr__(name: str) -> Any:
    """Lazy public API, so that importing the package stays light inside model environments."""
    if name == "log_driverless_scoring_pipeline":
        from .api import log_driverless_scoring_pipeline  # noqa: PLC0415

        return log_driverless_scoring_pipeline
    if name == "score_driverless_file":
        from .api import score_driverless_file  # noqa: PLC0415

        return score_driverless_file
    if name == "predict_with_uv":
        from .api import predict_with_uv  # noqa: PLC0415

        return predict_with_uv
    if name == "score_spark":
        from .spark.scoring import score_spark  # noqa: PLC0415

        return score_spark
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
