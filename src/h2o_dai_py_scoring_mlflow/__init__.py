"""Run H2O Driverless AI Python scoring pipelines as MLflow pyfunc models under Python 3.8."""

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "log_driverless_scoring_pipeline", "score_driverless_file"]


def __getattr__(name: str) -> Any:
    """Lazy public API, so that importing the package stays light inside model environments."""
    if name == "log_driverless_scoring_pipeline":
        from .api import log_driverless_scoring_pipeline  # noqa: PLC0415

        return log_driverless_scoring_pipeline
    if name == "score_driverless_file":
        from .api import score_driverless_file  # noqa: PLC0415

        return score_driverless_file
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
