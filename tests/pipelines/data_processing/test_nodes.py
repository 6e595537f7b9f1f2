"""Tests of cleaning, point-in-time activity aggregates and their join."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from fraud_detection.pipelines.data_processing.nodes import (
    AGGREGATE_COLUMNS,
    attach_activity,
    clean_transactions,
    compute_activity_aggregates,
)
from tests.pipelines.data_processing.conftest import T, make_raw

HOUR = pd.Timedelta(hours=1)
DAY = pd.Timedelta(days=1)
SECOND = pd.Timedelta(seconds=1)

CLEAN_DTYPES = {
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
    "is_fraud": "int8",
}
"""The ``raw_transactions`` / ``transactions_clean`` table of docs/data.md."""

AGGREGATE_DTYPES = {
    "transaction_id": "str",
    "tx_count_1h": "int64",
    "tx_count_24h": "int64",
    "tx_count_7d": "int64",
    "amount_sum_1h": "float64",
    "amount_sum_24h": "float64",
    "amount_sum_7d": "float64",
    "prior_tx_count": "int64",
    "prior_mean_amount": "float64",
    "hours_since_prev_tx": "float64",
}
"""The ``activity_aggregates`` table of docs/data.md."""


def _dtypes(frame: pd.DataFrame) -> dict[str, str]:
    return {column: str(dtype) for column, dtype in frame.dtypes.items()}


def _window_history() -> pd.DataFrame:
    """Customer 1 just outside and exactly at each window's edge before ``T``, then two at ``T``.

    Amounts are powers of two, so a sum tells which transactions were counted.
    """
    return make_raw(
        {"timestamp": T - 7 * DAY - SECOND, "amount": 1.0},
        {"timestamp": T - 7 * DAY, "amount": 2.0},
        {"timestamp": T - DAY - SECOND, "amount": 4.0},
        {"timestamp": T - DAY, "amount": 8.0},
        {"timestamp": T - HOUR - SECOND, "amount": 16.0},
        {"timestamp": T - HOUR, "amount": 32.0},
        {"timestamp": T, "amount": 64.0},
        {"timestamp": T, "amount": 128.0},
        # Another customer's spending, between them, never counts for customer 1.
        {"timestamp": T - HOUR / 2, "amount": 1000.0, "customer_id": 2},
    )


def _aggregates(raw: pd.DataFrame) -> pd.DataFrame:
    return compute_activity_aggregates(clean_transactions(raw)).set_index("transaction_id")


# --- clean_transactions -------------------------------------------------------------------------


def test_clean_enforces_the_documented_dtypes():
    """Loosely typed input (ints for amounts, int64 labels) comes out with the contract dtypes."""
    clean = clean_transactions(make_raw({"amount": 12, "distance_from_home_km": 0}))
    assert _dtypes(clean) == CLEAN_DTYPES
    assert clean.loc[0, "amount"] == 12.0


def test_clean_sorts_by_timestamp_then_transaction_id():
    """Rows come out in time order, ties broken by transaction id, on a fresh index."""
    raw = make_raw(
        {"timestamp": T + HOUR},
        {"timestamp": T},
        {"timestamp": T},
        {"timestamp": T - HOUR},
    ).iloc[[0, 2, 1, 3]]
    clean = clean_transactions(raw)
    assert clean["transaction_id"].tolist() == [
        "tx0000000003",
        "tx0000000001",
        "tx0000000002",
        "tx0000000000",
    ]
    assert clean.index.equals(pd.RangeIndex(4))


def test_clean_keeps_the_first_of_duplicate_transaction_ids():
    """Of rows sharing an id, the earliest is kept (the first given when at the same time)."""
    raw = make_raw(
        {"amount": 1.0},
        {"amount": 2.0},
        {"amount": 3.0, "timestamp": T - HOUR},
        {"amount": 4.0},
    )
    raw["transaction_id"] = ["tx0000000001", "tx0000000001", "tx0000000002", "tx0000000002"]
    clean = clean_transactions(raw)
    assert clean.set_index("transaction_id")["amount"].to_dict() == {
        "tx0000000002": 3.0,
        "tx0000000001": 1.0,
    }


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"transaction_id": None}, "missing value"),
        ({"timestamp": None}, "missing value"),
        ({"customer_id": None}, "missing value"),
        ({"card_present": None}, "missing value"),
        ({"amount": "ten"}, "missing value"),
        ({"customer_age": 40.5}, "missing value"),
        ({"amount": 0.0}, "amount not positive and finite"),
        ({"amount": -3.5}, "amount not positive and finite"),
        ({"amount": np.inf}, "amount not positive and finite"),
        ({"distance_from_home_km": -0.1}, "negative or infinite distance"),
        ({"distance_from_home_km": np.inf}, "negative or infinite distance"),
        ({"merchant_category": "casino"}, "unknown category"),
        ({"channel": "phone"}, "unknown category"),
        ({"device": "smartwatch"}, "unknown category"),
        ({"country": "XX"}, "unknown category"),
        ({"currency": "DOGE"}, "unknown category"),
    ],
)
def test_clean_drops_an_impossible_row_and_logs_why(override, reason, caplog):
    """The impossible row is gone, its valid neighbours stay, and the log counts it by reason."""
    raw = make_raw({"timestamp": T - HOUR}, override, {"timestamp": T + HOUR})
    with caplog.at_level(logging.INFO):
        clean = clean_transactions(raw)
    assert clean["transaction_id"].tolist() == ["tx0000000000", "tx0000000002"]
    assert f"1 ({reason})" in caplog.text
    assert "Kept 2 of 3 raw transactions" in caplog.text


def test_clean_counts_a_row_once_under_its_first_reason(caplog):
    """A row both unknown and with a bad amount counts once, and duplicates are counted too."""
    raw = make_raw({"amount": -1.0, "device": "smartwatch"}, {}, {})
    raw.loc[2, "transaction_id"] = raw.loc[1, "transaction_id"]
    with caplog.at_level(logging.INFO):
        clean = clean_transactions(raw)
    assert len(clean) == 1
    assert "1 (amount not positive and finite), 0 (negative or infinite distance)" in caplog.text
    assert "0 (unknown category), 1 (duplicate transaction_id)" in caplog.text


def test_clean_works_without_label_and_drops_extra_columns():
    """Unlabelled data is cleaned too; columns outside the contract do not pass through."""
    raw = make_raw({}).drop(columns="is_fraud").assign(note="free text")
    clean = clean_transactions(raw)
    assert list(clean.columns) == [c for c in CLEAN_DTYPES if c != "is_fraud"]


def test_clean_names_an_absent_column():
    """A table without a required column fails naming it."""
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['merchant_category'\]"):
        clean_transactions(make_raw({}).drop(columns="merchant_category"))


def test_clean_leaves_its_input_unchanged():
    """The raw frame is not modified in place."""
    raw = make_raw({"timestamp": T + HOUR}, {"amount": -1.0}, {})
    before = raw.copy()
    clean_transactions(raw)
    pd.testing.assert_frame_equal(raw, before)


# --- compute_activity_aggregates ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "count", "total"),
    [("1h", 1, 32.0), ("24h", 3, 8.0 + 16.0 + 32.0), ("7d", 5, 2.0 + 4.0 + 8.0 + 16.0 + 32.0)],
)
def test_window_counts_and_sums_include_the_left_edge_only(window, count, total):
    """A transaction exactly one window before counts; one a second earlier does not."""
    aggregates = _aggregates(_window_history())
    for current in ("tx0000000006", "tx0000000007"):
        assert aggregates.loc[current, f"tx_count_{window}"] == count
        assert aggregates.loc[current, f"amount_sum_{window}"] == pytest.approx(total)


def test_prior_count_mean_and_time_since_previous():
    """All earlier transactions count for the prior mean; the previous one was 1 h before."""
    current = _aggregates(_window_history()).loc["tx0000000006"]
    assert current["prior_tx_count"] == 6
    assert current["prior_mean_amount"] == pytest.approx(63.0 / 6)
    assert current["hours_since_prev_tx"] == pytest.approx(1.0)


def test_same_timestamp_transactions_do_not_count_for_each_other():
    """Two purchases at the same instant are both first purchases: no history, 720 h capped."""
    aggregates = _aggregates(make_raw({"amount": 5.0}, {"amount": 7.0}))
    assert (aggregates[["tx_count_1h", "tx_count_7d", "prior_tx_count"]] == 0).all(axis=None)
    assert (aggregates[["amount_sum_1h", "prior_mean_amount"]] == 0.0).all(axis=None)
    assert (aggregates["hours_since_prev_tx"] == 720.0).all()


@pytest.mark.parametrize(
    ("gap", "hours"),
    [(HOUR / 2, 0.5), (10 * DAY, 240.0), (30 * DAY, 720.0), (31 * DAY, 720.0)],
)
def test_hours_since_previous_is_capped_at_720(gap, hours):
    """The time since the previous purchase is in hours and never above 720 (30 days)."""
    aggregates = _aggregates(make_raw({"timestamp": T - gap}, {"timestamp": T}))
    assert aggregates.loc["tx0000000001", "hours_since_prev_tx"] == pytest.approx(hours)
    assert aggregates.loc["tx0000000000", "hours_since_prev_tx"] == 720.0


def test_appending_future_transactions_changes_no_earlier_aggregate():
    """Point-in-time: later transactions of the same or new customers leave the past untouched."""
    history = clean_transactions(_window_history())
    future = clean_transactions(
        make_raw(
            {"timestamp": T + SECOND, "amount": 500.0},
            {"timestamp": T + HOUR, "amount": 600.0, "customer_id": 2},
            {"timestamp": T + 2 * DAY, "amount": 700.0, "customer_id": 3},
        ).assign(transaction_id=["tx0000000100", "tx0000000101", "tx0000000102"])
    )
    before = compute_activity_aggregates(history)
    after = compute_activity_aggregates(pd.concat([history, future], ignore_index=True))
    pd.testing.assert_frame_equal(after.iloc[: len(history)], before, check_exact=True)
    assert after.iloc[len(history)]["tx_count_1h"] == 2  # both at T; T - 1h is 1 s too early


def test_aggregates_follow_the_contract_row_for_row():
    """Columns and dtypes as documented, one row per transaction in the input's (any) order."""
    clean = clean_transactions(_window_history())
    shuffled = clean.sample(frac=1.0, random_state=0)
    aggregates = compute_activity_aggregates(shuffled)
    assert _dtypes(aggregates) == AGGREGATE_DTYPES
    assert tuple(aggregates.columns[1:]) == AGGREGATE_COLUMNS
    assert aggregates["transaction_id"].tolist() == shuffled["transaction_id"].tolist()
    assert aggregates.index.equals(shuffled.index)
    pd.testing.assert_frame_equal(
        aggregates.set_index("transaction_id").sort_index(),
        compute_activity_aggregates(clean).set_index("transaction_id").sort_index(),
    )


def test_aggregates_of_an_empty_table_are_empty_with_the_contract_columns():
    """No transactions give an empty table that still has the documented dtypes."""
    empty = clean_transactions(make_raw({"amount": -1.0}))
    aggregates = compute_activity_aggregates(empty)
    assert aggregates.empty
    assert _dtypes(aggregates) == AGGREGATE_DTYPES


def test_aggregates_leave_their_input_unchanged():
    """The clean table is not modified in place."""
    clean = clean_transactions(_window_history())
    before = clean.copy()
    compute_activity_aggregates(clean)
    pd.testing.assert_frame_equal(clean, before)


# --- attach_activity ----------------------------------------------------------------------------


def test_attach_joins_on_id_and_keeps_transaction_order():
    """Each transaction gets its own aggregates, whatever their order, in the clean order."""
    clean = clean_transactions(_window_history())
    aggregates = compute_activity_aggregates(clean)
    scoring_input = attach_activity(clean, aggregates.iloc[::-1])
    assert list(scoring_input.columns) == [*clean.columns, *AGGREGATE_COLUMNS]
    assert scoring_input["transaction_id"].tolist() == clean["transaction_id"].tolist()
    pd.testing.assert_frame_equal(scoring_input[list(clean.columns)], clean)
    joined = scoring_input.set_index("transaction_id")
    assert joined.loc["tx0000000006", "amount_sum_24h"] == pytest.approx(56.0)
    assert joined.loc["tx0000000000", "prior_tx_count"] == 0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda aggregates: aggregates.iloc[1:], r"1 transaction\(s\) have no activity"),
        (
            lambda aggregates: pd.concat([aggregates, aggregates.iloc[:1]]),
            "holds a transaction_id more than once",
        ),
    ],
)
def test_attach_refuses_aggregates_that_do_not_match(edit, message):
    """Aggregates missing or repeated for a transaction fail with how to fix it."""
    clean = clean_transactions(_window_history())
    aggregates = compute_activity_aggregates(clean)
    with pytest.raises(ValueError, match=message):
        attach_activity(clean, edit(aggregates))
