"""Cleaning raw card transactions and computing each customer's point-in-time activity."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import polars as pl

from fraud_detection.domain import (
    CHANNELS,
    COUNTRIES,
    CURRENCIES,
    DEVICES,
    LABEL_COLUMN,
    MERCHANT_CATEGORIES,
    TRANSACTION_COLUMNS,
)

logger = logging.getLogger(__name__)

_DTYPES: dict[str, str] = {
    "transaction_id": "str",
    "timestamp": "datetime64[us]",
    "customer_id": "int64",
    "customer_age": "int64",
    "account_age_days": "int64",
    "amount": "float64",
    "currency": "str",
    "merchant_id": "int64",
    "merchant_category": "str",
    "channel": "str",
    "card_present": "bool",
    "distance_from_home_km": "float64",
    "device": "str",
    "country": "str",
    LABEL_COLUMN: "int8",
}
"""The dtypes of ``raw_transactions`` and ``transactions_clean`` (docs/data.md)."""

_VOCABULARIES: dict[str, tuple[str, ...]] = {
    "currency": CURRENCIES,
    "merchant_category": MERCHANT_CATEGORIES,
    "channel": CHANNELS,
    "device": DEVICES,
    "country": COUNTRIES,
}

# The windows, the 720 h cap and the column names below are the `activity_aggregates` contract of
# docs/data.md, which the serving request carries too: they are not tuning knobs, so they are not
# parameters. Changing one is changing the contract.
_WINDOWS: tuple[str, ...] = ("1h", "24h", "7d")
_MAX_HOURS_SINCE_PREV = 720
_US_PER_HOUR = 3_600_000_000

AGGREGATE_COLUMNS: tuple[str, ...] = (
    *(f"tx_count_{window}" for window in _WINDOWS),
    *(f"amount_sum_{window}" for window in _WINDOWS),
    "prior_tx_count",
    "prior_mean_amount",
    "hours_since_prev_tx",
)
"""Columns of ``activity_aggregates`` besides ``transaction_id``, in order."""


def clean_transactions(raw_transactions: pd.DataFrame) -> pd.DataFrame:
    """Enforce the dtypes of ``raw_transactions`` and drop the rows that cannot be true.

    A row is dropped, and counted under the first reason that applies, when it has a missing
    (or unparseable) required value, an amount that is not positive and finite, a negative or
    infinite distance, or a category outside the vocabularies of ``fraud_detection.domain``. The
    rest is sorted by ``timestamp`` then ``transaction_id`` and, of rows sharing a
    ``transaction_id``, the first is kept. The label ``is_fraud`` is optional: kept (and
    required) when present. Columns not in the contract are dropped.

    Args:
        raw_transactions: Transactions with the columns of ``raw_transactions`` in docs/data.md.

    Returns:
        ``transactions_clean``: the same columns with their documented dtypes, on a fresh
        ``RangeIndex``.

    Raises:
        ValueError: If a required column is absent.
    """
    absent = [column for column in TRANSACTION_COLUMNS if column not in raw_transactions.columns]
    if absent:
        raise ValueError(
            f"raw_transactions lacks the column(s) {absent}: it must have the columns of "
            "`raw_transactions` in docs/data.md"
        )
    columns = [column for column in _DTYPES if column in raw_transactions.columns]
    # `assign` replaces the columns in a (lazy, copy-on-write) copy: no column is copied twice.
    frame = raw_transactions[columns].assign(
        **{column: _coerce(raw_transactions[column], _DTYPES[column]) for column in columns}
    )

    amount = frame["amount"].to_numpy(dtype=np.float64, na_value=np.nan)
    distance = frame["distance_from_home_km"].to_numpy(dtype=np.float64, na_value=np.nan)
    unknown_category = np.zeros(len(frame), dtype=bool)
    for column, vocabulary in _VOCABULARIES.items():
        unknown_category |= ~frame[column].isin(vocabulary).to_numpy()
    reasons = {
        "missing value": frame.isna().any(axis=1).to_numpy(),
        "amount not positive and finite": ~(np.isfinite(amount) & (amount > 0)),
        "negative or infinite distance": ~(np.isfinite(distance) & (distance >= 0)),
        "unknown category": unknown_category,
    }
    dropped: dict[str, int] = {}
    keep = np.ones(len(frame), dtype=bool)
    for reason, impossible in reasons.items():
        dropped[reason] = int((keep & impossible).sum())
        keep &= ~impossible

    # Sort and de-duplicate on the two key columns only (polars: stable, multi-threaded), then
    # take the kept rows once: pandas' sort_values factorizes both keys and copies every column.
    keys = pl.from_pandas(frame[["timestamp", "transaction_id"]]).with_row_index("row")
    ordered = keys.filter(pl.Series(keep)).sort("timestamp", "transaction_id", maintain_order=True)
    rows = ordered.filter(pl.col("transaction_id").is_first_distinct())["row"].to_numpy()
    dropped["duplicate transaction_id"] = len(ordered) - len(rows)
    if not np.array_equal(rows, np.arange(len(frame))):  # already clean and in order: no copy
        frame = frame.take(rows)
    clean = frame.reset_index(drop=True).astype({column: _DTYPES[column] for column in columns})

    logger.info(
        "Kept %d of %d raw transactions; dropped %s",
        len(clean),
        len(raw_transactions),
        ", ".join(f"{count} ({reason})" for reason, count in dropped.items()),
    )
    return clean


def _coerce(column: pd.Series, dtype: str) -> pd.Series:
    """Convert a column towards ``dtype``; a value that does not convert becomes missing."""
    if dtype == "str":
        return column.astype("str")
    if dtype == "bool":
        if pd.api.types.is_bool_dtype(column) and not column.hasnans:
            return column
        # True/False and 1/0 map; anything else ("yes", 2) becomes missing. 1 == True in a dict.
        return column.map({True: True, False: False}, na_action="ignore")
    if dtype.startswith("datetime"):
        timestamps = pd.to_datetime(column, errors="coerce")
        if timestamps.dt.tz is not None:
            timestamps = timestamps.dt.tz_convert("UTC").dt.tz_localize(None)
        return timestamps.astype(dtype)
    numbers = pd.to_numeric(column, errors="coerce")
    if dtype.startswith("int") and pd.api.types.is_float_dtype(numbers):
        # An age of 30.5 years is unparseable, not 30: astype would truncate it silently.
        numbers = numbers.where(numbers.mod(1) == 0)
    return numbers


def compute_activity_aggregates(transactions_clean: pd.DataFrame) -> pd.DataFrame:
    """Compute each transaction's customer activity from that customer's earlier transactions.

    Point-in-time correct: a window ``w`` of a transaction at time ``t`` holds the same customer's
    transactions in ``[t - w, t)``, so neither the transaction itself nor any other at the same
    ``t`` counts, and appending later transactions never changes the result of an earlier one.

    Implemented with polars' ``rolling_*_by(..., closed="left").over("customer_id")``: vectorised,
    multi-threaded, and it keeps the input row order. Measured on 1,000,000 rows (20,000
    customers over 90 days, 2 shared cores, pandas 3.1.1, polars 2.1.0), ranges over repeated
    runs:

    - pandas ``groupby("customer_id").rolling(window, closed="left")``: 4.1-4.6 s for the counts
      and sums of the three windows alone, 6.0-7.0 s for every column;
    - numpy (customer-time keys, ``searchsorted``, per-customer cumulative sums): 2.4-3.1 s;
    - polars ``LazyFrame.rolling(index_column=..., group_by=..., closed="left")``, one frame
      per window joined back by row order: 0.71-0.83 s;
    - polars ``rolling_*_by(...).over(...)``: 0.50-0.81 s; this function with the conversions
      from and to pandas: 0.83-1.0 s (2.1-3.6 s on 5,000,000 rows, a few hundred MB).

    pandas is 7x slower; the two polars forms are on a par, and this one needs no join back.
    All four agree on every count and to 1e-12 on every sum.

    Args:
        transactions_clean: Transactions with ``transaction_id``, ``customer_id``, ``timestamp``
            and ``amount``, in any order.

    Returns:
        ``activity_aggregates``: ``transaction_id`` then ``AGGREGATE_COLUMNS``, row for row with
        ``transactions_clean`` (same index).
    """
    if transactions_clean.empty:
        empty = {column: pd.Series(dtype=_aggregate_dtype(column)) for column in AGGREGATE_COLUMNS}
        return pd.DataFrame(
            {"transaction_id": transactions_clean["transaction_id"].astype("str"), **empty},
            index=transactions_clean.index,
        )

    frame = pl.from_pandas(
        transactions_clean[["customer_id", "timestamp", "amount"]], include_index=False
    ).with_columns(pl.lit(1, dtype=pl.Int64).alias("_one"))
    span = transactions_clean["timestamp"].max() - transactions_clean["timestamp"].min()
    # A window longer than the whole history holds every earlier transaction of the customer.
    everything = f"{span // pd.Timedelta(1, 'us') + 1}us"

    def earlier(expr: pl.Expr, window: str) -> pl.Expr:
        """The sum of ``expr`` over the customer's transactions in ``[t - window, t)``."""
        return expr.rolling_sum_by("timestamp", window_size=window, closed="left").over(
            "customer_id"
        )

    one, amount = pl.col("_one"), pl.col("amount")
    # The latest earlier transaction within the cap; none there means "capped" as well.
    previous = (
        pl.col("timestamp")
        .rolling_max_by("timestamp", window_size=f"{_MAX_HOURS_SINCE_PREV}h", closed="left")
        .over("customer_id")
    )
    # Two steps: every window is computed once, then the derived columns read the results.
    windows = frame.select(
        "timestamp",
        *(earlier(one, w).fill_null(0).alias(f"tx_count_{w}") for w in _WINDOWS),
        *(earlier(amount, w).fill_null(0.0).alias(f"amount_sum_{w}") for w in _WINDOWS),
        earlier(one, everything).fill_null(0).alias("prior_tx_count"),
        earlier(amount, everything).fill_null(0.0).alias("_prior_sum"),
        previous.alias("_previous"),
    )
    count, total = pl.col("prior_tx_count"), pl.col("_prior_sum")
    hours = (pl.col("timestamp") - pl.col("_previous")).dt.total_microseconds() / _US_PER_HOUR
    aggregates = windows.select(
        pl.exclude("timestamp", "_prior_sum", "_previous"),
        prior_mean_amount=pl.when(count > 0).then(total / count).otherwise(0.0),
        hours_since_prev_tx=hours.fill_null(float(_MAX_HOURS_SINCE_PREV)),
    ).to_pandas()
    aggregates.index = transactions_clean.index
    aggregates.insert(0, "transaction_id", transactions_clean["transaction_id"].astype("str"))
    return aggregates.astype({column: _aggregate_dtype(column) for column in AGGREGATE_COLUMNS})


def _aggregate_dtype(column: str) -> str:
    return "int64" if "count" in column else "float64"


def attach_activity(
    transactions_clean: pd.DataFrame, activity_aggregates: pd.DataFrame
) -> pd.DataFrame:
    """Join each transaction with its activity aggregates: the rows a serving request carries.

    Args:
        transactions_clean: The clean transactions.
        activity_aggregates: One row per transaction, keyed by ``transaction_id``.

    Returns:
        ``scoring_input``: the columns of ``transactions_clean`` then the aggregates, in the row
        order of ``transactions_clean``, on a fresh ``RangeIndex``.

    Raises:
        ValueError: If a transaction has no aggregates, or one has several.
    """
    scoring_input = transactions_clean.merge(
        activity_aggregates, on="transaction_id", how="left", indicator=True, sort=False
    )
    if len(scoring_input) != len(transactions_clean):
        raise ValueError(
            "activity_aggregates holds a transaction_id more than once: recompute it from "
            "transactions_clean"
        )
    orphans = scoring_input.loc[scoring_input["_merge"] == "left_only", "transaction_id"]
    if not orphans.empty:
        raise ValueError(
            f"{len(orphans)} transaction(s) have no activity aggregates, e.g. "
            f"{orphans.head(3).tolist()}: recompute activity_aggregates from the same "
            "transactions_clean"
        )
    return scoring_input.drop(columns="_merge")
