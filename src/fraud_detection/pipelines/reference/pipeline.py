"""Wiring of the ``reference`` pipeline."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from lab2prod.monitoring import build_reference

from .nodes import reference_data


def create_pipeline(**kwargs) -> Pipeline:
    """Profile the training rows and the evaluation's scores as ``reference_profile``.

    Packaging puts the profile into the model package, so the monitoring of any model compares
    it with the data it learned from (docs/monitoring.md).
    """
    return Pipeline(
        [
            node(
                reference_data,
                inputs=["scoring_input", "train_set", "test_predictions", "metrics"],
                outputs=["reference_inputs", "reference_scores", "reference_threshold"],
                name="reference_data",
            ),
            node(
                build_reference,
                inputs=[
                    "reference_inputs",
                    "reference_scores",
                    "reference_threshold",
                    "params:reference",
                ],
                outputs="reference_profile",
                name="build_reference",
            ),
        ]
    )
