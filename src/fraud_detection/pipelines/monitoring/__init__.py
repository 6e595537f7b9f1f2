"""The ``monitoring`` pipeline: the prediction log against the model's reference profile."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
