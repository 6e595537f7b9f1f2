"""Hand-made ``scoring_input`` rows, so that every expected feature can be worked out by hand.

The test modules import ``make_scoring_input`` from here (as the suite imports from
``tests/conftest.py``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

SCORING_ROW: dict[str, Any] = {
    "transaction_id": "tx0000000000",
    "timestamp": pd.Timestamp("2026-01-07 14:30:00"),  # a Wednesday afternoon
    "customer_id": 1,
    "customer_age": 40,
    "account_age_days": 365,
    "amount": 10.0,
    "currency": "EUR",
    "merchant_id": 7,
    "merchant_category": "grocery",
    "channel": "in_store",
    "card_present": True,
    "distance_from_home_km": 2.0,
    "device": "pos_terminal",
    "country": "NL",
    "is_fraud": 0,
    "tx_count_1h": 0,
    "tx_count_24h": 1,
    "tx_count_7d": 4,
    "amount_sum_1h": 0.0,
    "amount_sum_24h": 30.0,
    "amount_sum_7d": 90.0,
    "prior_tx_count": 12,
    "prior_mean_amount": 20.0,
    "hours_since_prev_tx": 5.5,
}
"""One ``scoring_input`` row: an ordinary purchase with some history."""


def make_scoring_input(*rows: dict[str, Any]) -> pd.DataFrame:
    """``scoring_input`` rows with the dtypes of docs/data.md, each overriding ``SCORING_ROW``."""
    records = [
        {**SCORING_ROW, "transaction_id": f"tx{i:010d}", **row} for i, row in enumerate(rows)
    ]
    return pd.DataFrame.from_records(records).astype(
        {"timestamp": "datetime64[us]", "is_fraud": "int8"}
    )
