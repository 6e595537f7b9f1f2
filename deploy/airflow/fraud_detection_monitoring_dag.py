from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import dag, task

from kedro.framework.session import KedroSession
from kedro.framework.project import configure_project

# Kedro settings required to run your pipeline
env = "local"
pipeline_name = "monitoring"
project_path = Path.cwd()
package_name = "fraud_detection"
conf_source = "" or Path.cwd() / "conf"


def _run_kedro_node(node_names=None, namespaces=None):
    """Run a Kedro pipeline slice. Pass node_names for regular node groups or namespaces for namespace groups."""
    configure_project(package_name)
    with KedroSession.create(project_path=project_path, env=env, conf_source=conf_source) as session:
        if namespaces is not None:
            session.run(pipeline_names=[pipeline_name], namespaces=namespaces)
        else:
            session.run(pipeline_names=[pipeline_name], node_names=node_names)


@dag(
    dag_id="fraud-detection-monitoring",
    start_date=datetime(2026,1,1),
    max_active_runs=1,
    schedule="@daily",
    catchup=False,
    default_args=dict(
        owner="airflow",
        depends_on_past=False,
        email_on_failure=False,
        email_on_retry=False,
        retries=1,
        retry_delay=timedelta(minutes=5)
    ),
)
def fraud_detection():

    @task(task_id="monitoring-profile")
    def monitoring_profile():
        _run_kedro_node(node_names=["monitoring_profile"])

    @task(task_id="count-window")
    def count_window():
        _run_kedro_node(node_names=["count_window"])

    @task(task_id="check-drift")
    def check_drift():
        _run_kedro_node(node_names=["check_drift"])

    @task(task_id="drift-over-time")
    def drift_over_time():
        _run_kedro_node(node_names=["drift_over_time"])

    @task(task_id="labelled-predictions")
    def labelled_predictions():
        _run_kedro_node(node_names=["labelled_predictions"])

    @task(task_id="check-performance")
    def check_performance():
        _run_kedro_node(node_names=["check_performance"])

    @task(task_id="performance-over-time")
    def performance_over_time():
        _run_kedro_node(node_names=["performance_over_time"])

    @task(task_id="summarise-monitoring")
    def summarise_monitoring():
        _run_kedro_node(node_names=["summarise_monitoring"])

    @task(task_id="monitoring-report")
    def monitoring_report():
        _run_kedro_node(node_names=["monitoring_report"])

    tasks = {
        "monitoring-profile": monitoring_profile(),
        "count-window": count_window(),
        "check-drift": check_drift(),
        "drift-over-time": drift_over_time(),
        "labelled-predictions": labelled_predictions(),
        "check-performance": check_performance(),
        "performance-over-time": performance_over_time(),
        "summarise-monitoring": summarise_monitoring(),
        "monitoring-report": monitoring_report(),
    }
    tasks["monitoring-profile"] >> tasks["count-window"]
    tasks["monitoring-profile"] >> tasks["check-drift"]
    tasks["count-window"] >> tasks["check-drift"]
    tasks["monitoring-profile"] >> tasks["drift-over-time"]
    tasks["count-window"] >> tasks["drift-over-time"]
    tasks["monitoring-profile"] >> tasks["labelled-predictions"]
    tasks["count-window"] >> tasks["labelled-predictions"]
    tasks["monitoring-profile"] >> tasks["check-performance"]
    tasks["labelled-predictions"] >> tasks["check-performance"]
    tasks["monitoring-profile"] >> tasks["performance-over-time"]
    tasks["labelled-predictions"] >> tasks["performance-over-time"]
    tasks["monitoring-profile"] >> tasks["summarise-monitoring"]
    tasks["count-window"] >> tasks["summarise-monitoring"]
    tasks["check-drift"] >> tasks["summarise-monitoring"]
    tasks["check-performance"] >> tasks["summarise-monitoring"]
    tasks["monitoring-profile"] >> tasks["monitoring-report"]
    tasks["count-window"] >> tasks["monitoring-report"]
    tasks["check-drift"] >> tasks["monitoring-report"]
    tasks["drift-over-time"] >> tasks["monitoring-report"]
    tasks["check-performance"] >> tasks["monitoring-report"]
    tasks["performance-over-time"] >> tasks["monitoring-report"]
    tasks["summarise-monitoring"] >> tasks["monitoring-report"]


fraud_detection()