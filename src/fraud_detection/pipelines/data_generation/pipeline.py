"""Wiring of the ``data_generation`` pipeline."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from .nodes import generate_customers, generate_merchants, generate_transactions


def create_pipeline(**kwargs) -> Pipeline:
    """Customers and merchants, then their transactions as ``raw_transactions``."""
    return Pipeline(
        [
            node(
                generate_customers,
                inputs="params:data_generation",
                outputs="customers",
                name="generate_customers",
            ),
            node(
                generate_merchants,
                inputs="params:data_generation",
                outputs="merchants",
                name="generate_merchants",
            ),
            node(
                generate_transactions,
                inputs=["customers", "merchants", "params:data_generation"],
                outputs="raw_transactions",
                name="generate_transactions",
            ),
        ]
    )
