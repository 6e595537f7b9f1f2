"""Wiring of the ``inference_features`` pipeline."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from .nodes import build_features_in_batches


def create_pipeline(**kwargs) -> Pipeline:
    """Turn ``scoring_input`` into ``model_input``, row by row, a batch of rows at a time
    (serving runs ``build_features`` on each request batch: the same features)."""
    return Pipeline(
        [
            node(
                build_features_in_batches,
                inputs=["scoring_input", "params:inference_features", "params:feature_batches"],
                outputs="model_input",
                name="build_features",
            ),
        ]
    )
