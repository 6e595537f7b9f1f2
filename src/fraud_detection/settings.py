"""Project settings. See https://docs.kedro.org/en/stable/kedro_project_setup/settings.html."""

from kedro.config import OmegaConfigLoader

from lab2prod.lineage import ManifestHooks
from lab2prod.memory import SystemMemoryHooks
from lab2prod.tracking import TrackingHooks

# With the `tracking` extra (kedro-mlflow), typed parameters one key each, the metrics and reports
# the catalog marks, and notebook reports go to the MLflow run of every `kedro run`; without it
# these hooks do nothing. See docs/operations/mlflow.md. SystemMemoryHooks: what a step frees goes
# back to the system (Arrow on the system allocator, glibc's trim threshold low) in every process
# that loads or saves data (lab2prod/memory.py). ManifestHooks:
# a manifest per run in data/09_tracking/runs/, the records `kedro run --cache` compares with
# (docs/reproducibility.md).
HOOKS = (TrackingHooks(), SystemMemoryHooks(), ManifestHooks())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # conf/local may override one knob of a parameter group (or of mlflow.yml) without restating
    # the rest.
    "merge_strategy": {"parameters": "soft", "mlflow": "soft"},
}
