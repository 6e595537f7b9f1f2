"""Wiring of the ``training`` pipeline."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from .nodes import split_by_time, train_baseline, train_model


def create_pipeline(**kwargs) -> Pipeline:
    """Split ``model_input`` by time, then fit the model and the baseline on the same rows."""
    return Pipeline(
        [
            node(
                split_by_time,
                inputs=["model_input", "params:training.split"],
                outputs=["train_set", "validation_set", "test_set"],
                name="split_by_time",
            ),
            node(
                train_model,
                inputs=["train_set", "params:training.model"],
                outputs="model",
                name="train_model",
                # With DaskRunner: its OpenMP pools take every core, as on one machine (it is
                # most of the pipeline's time; the baseline beside it is short).
                tags=["dask.threads-all"],
            ),
            node(
                train_baseline,
                inputs=["train_set", "params:training.baseline"],
                outputs="baseline_model",
                name="train_baseline",
            ),
        ]
    )
