"""Hand-made raw transactions, so that every expected value can be worked out by hand.

The test modules import ``make_raw`` and ``T`` from here (as the suite imports from
``tests/conftest.py``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

VALID_ROW: dict[str, Any] = {
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
}
"""A plausible in-store purchase; each test overrides only what it is about."""

T = pd.Timestamp("2026-01-10 12:00:00")
"""The reference time of the window tests (a Saturday noon)."""


def make_raw(*rows: dict[str, Any]) -> pd.DataFrame:
    """Raw transactions, one per dict of overrides; ids ``tx0000000000``, ... in the given order.

    ``timestamp`` defaults to ``T``; other dtypes are what pandas infers, as a careless file
    would give them, so cleaning has to enforce them.
    """
    records = [
        {"transaction_id": f"tx{i:010d}", "timestamp": T, **VALID_ROW, **row}
        for i, row in enumerate(rows)
    ]
    frame = pd.DataFrame.from_records(records)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"]).astype("datetime64[us]")
    return frame
