"""Wiring of the ``inference`` pipeline: the features, then the score."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from fraud_detection.pipelines import inference_features

from .nodes import score_transactions


def create_pipeline(**kwargs) -> Pipeline:
    """Score ``scoring_input`` with the same feature node training used, then the model.

    The service runs this pipeline on each batch of requests, with ``model`` and
    ``decision_threshold`` bound from the packaged model; ``kedro run`` does not run it (see
    ``pipeline_registry.SERVING_ONLY``).
    """
    return inference_features.create_pipeline() + Pipeline(
        [
            node(
                score_transactions,
                inputs=["model_input", "model", "decision_threshold"],
                outputs="predictions",
                name="score_transactions",
            ),
        ]
    )
