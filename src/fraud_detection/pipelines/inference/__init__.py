"""The ``inference`` pipeline: a transaction and its activity in, a fraud score and decision out."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
