"""The ``training`` pipeline: time-ordered splits, the fraud model and its linear baseline."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
