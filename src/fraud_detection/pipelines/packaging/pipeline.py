"""Wiring of the ``packaging`` pipeline."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from .nodes import package_model


def create_pipeline(**kwargs) -> Pipeline:
    """Save the model, its threshold (from metrics.json), its reference profile and provenance as
    ``packaged_model``.

    It reads only what training and evaluation wrote to disk, so
    ``kedro run --pipelines packaging`` re-packages the latest model on its own.
    """
    return Pipeline(
        [
            node(
                package_model,
                inputs=[
                    "model",
                    "metrics",
                    "train_set",
                    "params:inference_features",
                    "params:training.split",
                    "params:training.model",
                    "reference_profile",
                ],
                outputs="packaged_model",
                name="package_model",
            ),
        ]
    )
