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
                # With DaskRunner: one fit at a time (each holds its own copy of train_set: two
                # at once need twice the memory, and on two cores save little time), its OpenMP
                # pools taking every core, as on one machine.
                tags=["dask.threads-all", "dask.limit.fit-1"],
            ),
            node(
                train_baseline,
                inputs=["train_set", "params:training.baseline"],
                outputs="baseline_model",
                name="train_baseline",
                tags=["dask.threads-all", "dask.limit.fit-1"],
            ),
        ]
    )
