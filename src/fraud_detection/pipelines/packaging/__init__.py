"""The ``packaging`` pipeline: the trained model, packaged for the BentoML model store."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
