"""Wiring of the ``monitoring`` pipeline.

Every node is a function of ``lab2prod.monitoring.check`` as it stands: the example brings only
its configuration (conf/base/catalog_monitoring.yml, parameters_monitoring.yml) and the report
notebook. ``kedro monitor check`` runs the same functions. What the nodes hand each other is in
the catalog (JSON, parquet), so each node is an Airflow task of its own.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from lab2prod import notebook_node
from lab2prod.monitoring import check


def create_pipeline(**kwargs) -> Pipeline:
    """Drift of the window's predictions, decay where labels are in, a verdict and a report.

    ``kedro run --pipelines monitoring`` needs a prediction log (the service writes it, see
    docs/monitoring.md) and the packaged model; it is not part of ``kedro run``.
    """
    return Pipeline(
        [
            node(
                check.reference_of_package,
                inputs="packaged_model",
                outputs="monitoring_profile",
                name="monitoring_profile",
            ),
            node(
                check.count_window,
                inputs=["monitoring_profile", "prediction_log", "params:monitoring.window"],
                outputs="window_counts",
                name="count_window",
            ),
            node(
                check.check_drift,
                inputs=["monitoring_profile", "window_counts", "params:monitoring.drift"],
                outputs="drift_table",
                name="check_drift",
            ),
            node(
                check.drift_over_time,
                inputs=["monitoring_profile", "window_counts", "params:monitoring.drift"],
                outputs="drift_over_time",
                name="drift_over_time",
            ),
            node(
                check.labelled_predictions,
                inputs=[
                    "monitoring_profile",
                    "prediction_log",
                    "labels",
                    "window_counts",
                    "params:monitoring.window",
                    "params:monitoring.labels",
                ],
                outputs="labelled_predictions",
                name="labelled_predictions",
            ),
            node(
                check.check_performance,
                inputs=[
                    "monitoring_profile",
                    "labelled_predictions",
                    "params:monitoring.performance",
                ],
                outputs="performance_table",
                name="check_performance",
            ),
            node(
                check.performance_over_time,
                inputs=["monitoring_profile", "labelled_predictions", "params:monitoring.window"],
                outputs="performance_over_time",
                name="performance_over_time",
            ),
            node(
                check.summarise,
                inputs=[
                    "monitoring_profile",
                    "window_counts",
                    "drift_table",
                    "performance_table",
                ],
                outputs="monitoring_summary",
                name="summarise_monitoring",
            ),
            notebook_node(
                "notebooks/reports/monitoring_report.ipynb",
                inputs={
                    "summary": "monitoring_summary",
                    "profile": "monitoring_profile",
                    "window_counts": "window_counts",
                    "drift": "drift_table",
                    "drift_over_time": "drift_over_time",
                    "performance": "performance_table",
                    "performance_over_time": "performance_over_time",
                },
                name="monitoring_report",
                hide_code=True,
                html_copy="data/08_reporting/monitoring_report.html",
            ),
        ]
    )
