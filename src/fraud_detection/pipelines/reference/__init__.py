"""The ``reference`` pipeline: the profile the monitoring compares production with."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
