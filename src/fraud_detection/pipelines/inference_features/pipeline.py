"""Wiring of the ``inference_features`` pipeline."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from .nodes import build_features


def create_pipeline(**kwargs) -> Pipeline:
    """Turn ``scoring_input`` into ``model_input``, row by row (serving runs the same node)."""
    return Pipeline(
        [
            node(
                build_features,
                inputs=["scoring_input", "params:inference_features"],
                outputs="model_input",
                name="build_features",
            ),
        ]
    )
