"""Pipelines of the fraud-detection example."""
