"""Wiring of the ``evaluation`` pipeline."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from lab2prod import notebook_node

from .nodes import (
    choose_threshold,
    compute_feature_importance,
    compute_metrics,
    plot_pr_curve,
    plot_score_distributions,
    predict_test,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Threshold on validation, then predictions, metrics, plots and the report notebook.

    The report (``notebooks/reports/model_report.ipynb``) runs as a notebook node: its executed
    copy and HTML are kept per run under ``data/08_reporting/notebooks/``, the latest HTML also
    as ``data/08_reporting/model_report.html``.
    """
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
            node(
                compute_feature_importance,
                inputs=["model", "test_set", "params:evaluation"],
                outputs="feature_importance",
                name="compute_feature_importance",
            ),
            notebook_node(
                "notebooks/reports/model_report.ipynb",
                inputs={
                    "metrics": "metrics",
                    "predictions": "test_predictions",
                    "test_set": "test_set",
                    "feature_importance": "feature_importance",
                },
                outputs={"segment_metrics": "segment_metrics"},
                name="model_report",
                hide_code=True,
                html_copy="data/08_reporting/model_report.html",
            ),
        ]
    )
