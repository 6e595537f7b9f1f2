"""The ``data_processing`` pipeline: clean transactions, point-in-time activity, scoring input."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
