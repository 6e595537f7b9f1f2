"""Tests of the seeded transaction generator."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from fraud_detection.domain import (
    COUNTRY_CURRENCY,
    DEVICES,
    MERCHANT_CATEGORIES,
    TRANSACTION_COLUMNS,
)
from fraud_detection.pipelines.data_generation.nodes import (
    GenerationParams,
    generate_customers,
    generate_merchants,
    generate_transactions,
)


def _generate(**overrides) -> pd.DataFrame:
    params = GenerationParams(n_customers=500, n_merchants=100, n_transactions=20_000, **overrides)
    return generate_transactions(generate_customers(params), generate_merchants(params), params)


@pytest.fixture(scope="module")
def transactions() -> pd.DataFrame:
    return _generate()


def test_same_seed_gives_identical_table():
    """Two runs with one seed produce byte-identical data; another seed does not."""
    pd.testing.assert_frame_equal(_generate(seed=7), _generate(seed=7))
    assert not _generate(seed=7)["amount"].equals(_generate(seed=8)["amount"])


def test_columns_and_dtypes(transactions):
    """The table has the documented columns, in order, with their dtypes."""
    assert list(transactions.columns) == [*TRANSACTION_COLUMNS, "is_fraud"]
    assert transactions["timestamp"].dtype == "datetime64[us]"
    assert transactions["card_present"].dtype == bool
    assert transactions["is_fraud"].dtype == np.int8
    for column in ("customer_id", "customer_age", "account_age_days", "merchant_id"):
        assert transactions[column].dtype == np.int64


def test_requested_size_unique_ids_in_time_order(transactions):
    """Exactly n_transactions rows, unique ids, sorted by time, within the date range."""
    assert len(transactions) == 20_000
    assert transactions["transaction_id"].is_unique
    assert transactions["transaction_id"].str.fullmatch(r"tx\d{10}").all()
    assert transactions["timestamp"].is_monotonic_increasing
    assert transactions["timestamp"].min() >= pd.Timestamp("2026-01-01")
    assert transactions["timestamp"].max() < pd.Timestamp("2026-04-01")


def test_values_are_possible(transactions):
    """Amounts positive, categories known, in-store means card present, currency follows country."""
    assert (transactions["amount"] > 0).all()
    assert (transactions["distance_from_home_km"] >= 0).all()
    assert (transactions["account_age_days"] >= 0).all()
    assert transactions["customer_age"].between(18, 95).all()
    assert set(transactions["merchant_category"]) <= set(MERCHANT_CATEGORIES)
    assert set(transactions["device"]) <= set(DEVICES)
    in_store = transactions["channel"] == "in_store"
    assert transactions.loc[in_store, "card_present"].all()
    assert (transactions.loc[in_store, "device"] == "pos_terminal").all()
    assert not transactions.loc[~in_store, "card_present"].any()
    assert (transactions["currency"] == transactions["country"].map(COUNTRY_CURRENCY)).all()


def test_fraud_prevalence_near_one_percent(transactions):
    """About 1% of transactions are labelled fraud, noise included."""
    assert 0.006 <= transactions["is_fraud"].mean() <= 0.014


def test_fraud_follows_known_patterns(transactions):
    """Fraud is far from home, at night, in risky categories or in bursts far more than legit."""
    fraud = transactions[transactions["is_fraud"] == 1]
    legit = transactions[transactions["is_fraud"] == 0]
    assert fraud["amount"].median() > 2 * legit["amount"].median()
    far = transactions["distance_from_home_km"] > 500
    assert far[fraud.index].mean() > 5 * far[legit.index].mean()
    night = transactions["timestamp"].dt.hour < 6
    assert night[fraud.index].mean() > 3 * night[legit.index].mean()
    tiny = transactions["amount"] < 3
    assert tiny[fraud.index].mean() > 3 * tiny[legit.index].mean()


def test_label_noise_hides_some_fraud():
    """Without noise more fraud is labelled than with the default noise."""
    clean = _generate(label_noise={"missed_fraud_rate": 0.0, "false_report_rate": 0.0})
    noisy = _generate()
    assert clean["is_fraud"].sum() > noisy["is_fraud"].sum()


@pytest.mark.parametrize(
    ("scenario", "changed"),
    [
        (
            "amount_inflation",
            lambda before, after: after["amount"].median() > 1.3 * before["amount"].median(),
        ),
        (
            "new_merchant_mix",
            lambda before, after: (
                (after["merchant_category"] == "online_retail").mean()
                > 2 * (before["merchant_category"] == "online_retail").mean()
            ),
        ),
        (
            "fraud_surge",
            lambda before, after: after["is_fraud"].mean() > 1.3 * before["is_fraud"].mean(),
        ),
    ],
)
def test_drift_scenarios_shift_the_second_half(scenario, changed):
    """Each drift scenario changes the data after drift.start and not before."""
    base = _generate()
    drifted = _generate(drift={"scenario": scenario, "start": 0.5, "strength": 1.5})
    cut = pd.Timestamp("2026-02-15")
    assert changed(base[base["timestamp"] >= cut], drifted[drifted["timestamp"] >= cut])
    before = drifted[drifted["timestamp"] < cut - pd.Timedelta(days=1)]
    assert abs(before["amount"].median() - base["amount"][base["timestamp"] < cut].median()) < 5


def _quiet_fraud_of_older_customers(frame: pd.DataFrame) -> pd.Series:
    """Fraud no known pattern makes: online, in the day, near home, against customers of 65+."""
    return (
        (frame["is_fraud"] == 1)
        & (frame["channel"] == "online")
        & frame["timestamp"].dt.hour.between(7, 22)
        & (frame["distance_from_home_km"] < 50)
        & (frame["customer_age"] >= 65)
    )


def test_fraud_surge_adds_a_new_campaign_after_its_start_and_changes_nothing_before():
    """Before drift.start the table is scenario none's, byte for byte, and as long; after it
    fraud is about strength times as frequent, a part of it a campaign the known patterns do
    not make (account takeover of older customers, online, by day, near home)."""
    base = _generate()
    surge = _generate(drift={"scenario": "fraud_surge", "start": 0.5, "strength": 3.0})
    cut = pd.Timestamp("2026-02-15")

    pd.testing.assert_frame_equal(base[base["timestamp"] < cut], surge[surge["timestamp"] < cut])
    assert len(surge) == len(base)
    base_after, surge_after = base[base["timestamp"] >= cut], surge[surge["timestamp"] >= cut]
    assert 2.4 < surge_after["is_fraud"].mean() / base_after["is_fraud"].mean() < 3.75
    quiet_base = _quiet_fraud_of_older_customers(base_after).sum() / base_after["is_fraud"].sum()
    quiet_surge = _quiet_fraud_of_older_customers(surge_after).sum() / surge_after["is_fraud"].sum()
    assert quiet_base < 0.02 and quiet_surge > 0.1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"n_transactions": 10}, "n_transactions"),
        ({"fraud_rate": 1.5}, "fraud_rate"),
        ({"end_date": dt.date(2025, 1, 1)}, "end_date"),
        ({"drift": {"scenario": "meteor"}}, "scenario"),
        ({"n_customer": 5}, "n_customer"),
    ],
)
def test_bad_parameters_name_the_key(overrides, message):
    """A bad knob fails validation with a message naming it."""
    with pytest.raises(ValidationError, match=message):
        GenerationParams(**overrides)
