from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import dag, task

from kedro.framework.session import KedroSession
from kedro.framework.project import configure_project

# Kedro settings required to run your pipeline
env = "local"
pipeline_name = "__default__"
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
    dag_id="fraud-detection",
    start_date=datetime(2026,1,1),
    max_active_runs=1,
    schedule="@weekly",
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

    @task(task_id="generate-customers")
    def generate_customers():
        _run_kedro_node(node_names=["generate_customers"])

    @task(task_id="generate-merchants")
    def generate_merchants():
        _run_kedro_node(node_names=["generate_merchants"])

    @task(task_id="generate-transactions")
    def generate_transactions():
        _run_kedro_node(node_names=["generate_transactions"])

    @task(task_id="clean-transactions")
    def clean_transactions():
        _run_kedro_node(node_names=["clean_transactions"])

    @task(task_id="customer-profiles-profile-each-customer-customer-profiles-flag-high-spenders-customer-profiles-rank-customers-customer-profiles-spend-distribution")
    def customer_profiles_profile_each_customer_customer_profiles_flag_high_spenders_customer_profiles_rank_customers_customer_profiles_spend_distribution():
        _run_kedro_node(node_names=["customer_profiles.profile_each_customer", "customer_profiles.flag_high_spenders", "customer_profiles.rank_customers", "customer_profiles.spend_distribution"])

    @task(task_id="compute-activity-aggregates")
    def compute_activity_aggregates():
        _run_kedro_node(node_names=["compute_activity_aggregates"])

    @task(task_id="attach-activity")
    def attach_activity():
        _run_kedro_node(node_names=["attach_activity"])

    @task(task_id="build-features")
    def build_features():
        _run_kedro_node(node_names=["build_features"])

    @task(task_id="split-by-time")
    def split_by_time():
        _run_kedro_node(node_names=["split_by_time"])

    @task(task_id="train-baseline")
    def train_baseline():
        _run_kedro_node(node_names=["train_baseline"])

    @task(task_id="train-model")
    def train_model():
        _run_kedro_node(node_names=["train_model"])

    @task(task_id="choose-threshold-predict-test-compute-metrics-plot-pr-curve-plot-score-distributions")
    def choose_threshold_predict_test_compute_metrics_plot_pr_curve_plot_score_distributions():
        _run_kedro_node(node_names=["choose_threshold", "predict_test", "compute_metrics", "plot_pr_curve", "plot_score_distributions"])

    @task(task_id="compute-feature-importance")
    def compute_feature_importance():
        _run_kedro_node(node_names=["compute_feature_importance"])

    @task(task_id="model-report")
    def model_report():
        _run_kedro_node(node_names=["model_report"])

    @task(task_id="reference-data-build-reference")
    def reference_data_build_reference():
        _run_kedro_node(node_names=["reference_data", "build_reference"])

    @task(task_id="package-model")
    def package_model():
        _run_kedro_node(node_names=["package_model"])

    tasks = {
        "generate-customers": generate_customers(),
        "generate-merchants": generate_merchants(),
        "generate-transactions": generate_transactions(),
        "clean-transactions": clean_transactions(),
        "customer-profiles-profile-each-customer-customer-profiles-flag-high-spenders-customer-profiles-rank-customers-customer-profiles-spend-distribution": customer_profiles_profile_each_customer_customer_profiles_flag_high_spenders_customer_profiles_rank_customers_customer_profiles_spend_distribution(),
        "compute-activity-aggregates": compute_activity_aggregates(),
        "attach-activity": attach_activity(),
        "build-features": build_features(),
        "split-by-time": split_by_time(),
        "train-baseline": train_baseline(),
        "train-model": train_model(),
        "choose-threshold-predict-test-compute-metrics-plot-pr-curve-plot-score-distributions": choose_threshold_predict_test_compute_metrics_plot_pr_curve_plot_score_distributions(),
        "compute-feature-importance": compute_feature_importance(),
        "model-report": model_report(),
        "reference-data-build-reference": reference_data_build_reference(),
        "package-model": package_model(),
    }
    tasks["generate-customers"] >> tasks["generate-transactions"]
    tasks["generate-merchants"] >> tasks["generate-transactions"]
    tasks["generate-transactions"] >> tasks["clean-transactions"]
    tasks["generate-transactions"] >> tasks["customer-profiles-profile-each-customer-customer-profiles-flag-high-spenders-customer-profiles-rank-customers-customer-profiles-spend-distribution"]
    tasks["clean-transactions"] >> tasks["compute-activity-aggregates"]
    tasks["clean-transactions"] >> tasks["attach-activity"]
    tasks["compute-activity-aggregates"] >> tasks["attach-activity"]
    tasks["attach-activity"] >> tasks["build-features"]
    tasks["build-features"] >> tasks["split-by-time"]
    tasks["split-by-time"] >> tasks["train-baseline"]
    tasks["split-by-time"] >> tasks["train-model"]
    tasks["split-by-time"] >> tasks["choose-threshold-predict-test-compute-metrics-plot-pr-curve-plot-score-distributions"]
    tasks["train-baseline"] >> tasks["choose-threshold-predict-test-compute-metrics-plot-pr-curve-plot-score-distributions"]
    tasks["train-model"] >> tasks["choose-threshold-predict-test-compute-metrics-plot-pr-curve-plot-score-distributions"]
    tasks["split-by-time"] >> tasks["compute-feature-importance"]
    tasks["train-model"] >> tasks["compute-feature-importance"]
    tasks["split-by-time"] >> tasks["model-report"]
    tasks["compute-feature-importance"] >> tasks["model-report"]
    tasks["choose-threshold-predict-test-compute-metrics-plot-pr-curve-plot-score-distributions"] >> tasks["model-report"]
    tasks["attach-activity"] >> tasks["reference-data-build-reference"]
    tasks["split-by-time"] >> tasks["reference-data-build-reference"]
    tasks["choose-threshold-predict-test-compute-metrics-plot-pr-curve-plot-score-distributions"] >> tasks["reference-data-build-reference"]
    tasks["split-by-time"] >> tasks["package-model"]
    tasks["train-model"] >> tasks["package-model"]
    tasks["choose-threshold-predict-test-compute-metrics-plot-pr-curve-plot-score-distributions"] >> tasks["package-model"]
    tasks["reference-data-build-reference"] >> tasks["package-model"]


fraud_detection()