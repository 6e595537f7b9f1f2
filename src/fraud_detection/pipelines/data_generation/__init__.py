"""The ``data_generation`` pipeline: seeded synthetic card transactions."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
