"""The example project's settings, unchanged (kedro-mlflow registers its hooks itself)."""

from fraud_detection.settings import CONFIG_LOADER_ARGS, CONFIG_LOADER_CLASS, HOOKS

__all__ = ["CONFIG_LOADER_ARGS", "CONFIG_LOADER_CLASS", "HOOKS"]
