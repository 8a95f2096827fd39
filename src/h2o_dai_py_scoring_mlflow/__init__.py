"""Run H2O Driverless AI Python scoring pipelines as MLflow pyfunc models under Python 3.8."""

__version__ = "0.1.0"
