"""Wiring of the ``inference`` pipeline: the features, then the score."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from fraud_detection.pipelines.inference_features.nodes import build_features

from .nodes import score_transactions


def create_pipeline(**kwargs) -> Pipeline:
    """Score ``scoring_input`` with the features training used (``build_features``, which
    ``inference_features`` runs a batch of rows at a time), then the model.

    The service runs this pipeline on each batch of requests, with ``model`` and
    ``decision_threshold`` bound from the packaged model; ``kedro run`` does not run it (see
    ``pipeline_registry.SERVING_ONLY``).
    """
    return Pipeline(
        [
            node(
                build_features,
                inputs=["scoring_input", "params:inference_features"],
                outputs="model_input",
                name="build_features",
            ),
            node(
                score_transactions,
                inputs=["model_input", "model", "decision_threshold"],
                outputs="predictions",
                name="score_transactions",
            ),
        ]
    )
