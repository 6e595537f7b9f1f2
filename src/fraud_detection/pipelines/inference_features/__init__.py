"""The ``inference_features`` pipeline: stateless per-row features for training and serving."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
