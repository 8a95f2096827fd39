"""Synthetic stand-in for H2O Driverless AI's scoring runtime (h2oaicore)."""

__version__ = "1.10.7.3"
