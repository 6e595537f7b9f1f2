"""The ``evaluation`` pipeline: decision threshold, test metrics, predictions and plots."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
