"""Wiring of the ``retraining`` pipeline."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from fraud_detection.pipelines.evaluation.nodes import choose_threshold
from fraud_detection.pipelines.packaging.nodes import package_model
from fraud_detection.pipelines.reference.nodes import reference_data
from fraud_detection.pipelines.training.nodes import train_model
from lab2prod.monitoring import build_reference

from .nodes import (
    challenger_metrics,
    challenger_predictions,
    compare_models,
    features_of,
    promotion,
    recent_splits,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Train a challenger on the recent days, judge it against the packaged champion on the
    recent holdout, and package it as the new ``latest`` only if it is better by the margin.

    ``kedro run --pipelines retraining``; not part of ``kedro run``. The decision, with both
    models' scores, is ``retraining_decision`` (and, when promoted, the new model's metadata).
    """
    return Pipeline(
        [
            node(
                recent_splits,
                inputs=["scoring_input", "params:retraining"],
                outputs=["recent_train", "recent_validation", "recent_holdout"],
                name="recent_splits",
            ),
            node(
                features_of,
                inputs=[
                    "recent_train",
                    "recent_validation",
                    "recent_holdout",
                    "params:inference_features",
                ],
                outputs=["challenger_train_set", "challenger_validation_set", "holdout_set"],
                name="challenger_features",
            ),
            node(
                train_model,
                inputs=["challenger_train_set", "params:training.model"],
                outputs="challenger_model",
                name="train_challenger",
            ),
            node(
                choose_threshold,
                inputs=["challenger_model", "challenger_validation_set", "params:evaluation"],
                outputs="challenger_threshold",
                name="challenger_threshold",
            ),
            node(
                compare_models,
                inputs=[
                    "packaged_model",
                    "challenger_model",
                    "challenger_threshold",
                    "recent_holdout",
                    "params:retraining",
                ],
                outputs="retraining_decision",
                name="compare_models",
            ),
            node(
                challenger_predictions,
                inputs=["challenger_model", "holdout_set", "challenger_threshold"],
                outputs="challenger_holdout_predictions",
                name="challenger_predictions",
            ),
            node(
                reference_data,
                inputs=[
                    "recent_train",
                    "challenger_train_set",
                    "challenger_holdout_predictions",
                    "challenger_metrics",
                ],
                outputs=[
                    "challenger_reference_inputs",
                    "challenger_reference_scores",
                    "challenger_reference_threshold",
                ],
                name="challenger_reference_data",
            ),
            node(
                build_reference,
                inputs=[
                    "challenger_reference_inputs",
                    "challenger_reference_scores",
                    "challenger_reference_threshold",
                    "params:reference",
                ],
                outputs="challenger_reference_profile",
                name="challenger_reference",
            ),
            node(
                challenger_metrics,
                inputs=["retraining_decision", "challenger_threshold"],
                outputs="challenger_metrics",
                name="challenger_metrics",
            ),
            node(
                package_model,
                inputs=[
                    "challenger_model",
                    "challenger_metrics",
                    "challenger_train_set",
                    "params:inference_features",
                    "params:training.split",
                    "params:training.model",
                    "challenger_reference_profile",
                ],
                outputs="challenger_package",
                name="package_challenger",
            ),
            node(
                promotion,
                inputs=["retraining_decision", "challenger_package"],
                outputs="retrained_model",
                name="promote_or_keep",
            ),
        ]
    )
