"""Project settings. See https://docs.kedro.org/en/stable/kedro_project_setup/settings.html."""

from kedro.config import OmegaConfigLoader

from fraud_detection.hooks import ArrowSystemMemoryHooks
from lab2prod.lineage import ManifestHooks
from lab2prod.tracking import TrackingHooks

# With the `tracking` extra (kedro-mlflow), typed parameters one key each, the metrics and reports
# the catalog marks, and notebook reports go to the MLflow run of every `kedro run`; without it
# these hooks do nothing. See docs/operations/mlflow.md. Arrow allocates through the system
# allocator in every process that loads or saves data (fraud_detection/hooks.py). ManifestHooks:
# a manifest per run in data/09_tracking/runs/, the records `kedro run --cache` compares with
# (docs/reproducibility.md).
HOOKS = (TrackingHooks(), ArrowSystemMemoryHooks(), ManifestHooks())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # conf/local may override one knob of a parameter group (or of mlflow.yml) without restating
    # the rest.
    "merge_strategy": {"parameters": "soft", "mlflow": "soft"},
}
