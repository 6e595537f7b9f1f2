"""Wiring of the ``evaluation`` pipeline."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from .nodes import (
    choose_threshold,
    compute_metrics,
    plot_pr_curve,
    plot_score_distributions,
    predict_test,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Threshold on validation, then predictions, metrics and plots on the test period."""
    return Pipeline(
        [
            node(
                choose_threshold,
                inputs=["model", "validation_set", "params:evaluation"],
                outputs="decision_threshold",
                name="choose_threshold",
            ),
            node(
                predict_test,
                inputs=["model", "baseline_model", "test_set", "decision_threshold"],
                outputs="test_predictions",
                name="predict_test",
            ),
            node(
                compute_metrics,
                inputs=["test_predictions", "decision_threshold"],
                outputs="metrics",
                name="compute_metrics",
            ),
            node(
                plot_pr_curve,
                inputs=["test_predictions", "decision_threshold"],
                outputs="pr_curve",
                name="plot_pr_curve",
            ),
            node(
                plot_score_distributions,
                inputs=["test_predictions", "decision_threshold"],
                outputs="score_distributions",
                name="plot_score_distributions",
            ),
        ]
    )
