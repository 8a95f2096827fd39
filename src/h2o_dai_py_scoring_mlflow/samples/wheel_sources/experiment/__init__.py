"""Scoring pipeline of a Driverless AI experiment (synthetic)."""

from .scorer import Scorer

__all__ = ["Scorer"]
