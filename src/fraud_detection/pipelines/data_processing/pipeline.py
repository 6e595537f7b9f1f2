"""Wiring of the ``data_processing`` pipeline."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from .nodes import attach_activity, clean_transactions, compute_activity_aggregates


def create_pipeline(**kwargs) -> Pipeline:
    """Clean ``raw_transactions``, compute each one's activity, join both into ``scoring_input``."""
    return Pipeline(
        [
            node(
                clean_transactions,
                inputs="raw_transactions",
                outputs="transactions_clean",
                name="clean_transactions",
            ),
            node(
                compute_activity_aggregates,
                inputs="transactions_clean",
                outputs="activity_aggregates",
                name="compute_activity_aggregates",
            ),
            node(
                attach_activity,
                inputs=["transactions_clean", "activity_aggregates"],
                outputs="scoring_input",
                name="attach_activity",
            ),
        ]
    )
