"""The ``retraining`` pipeline: a challenger trained on recent data replaces the packaged model
only when it is better on the same recent labelled window."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
