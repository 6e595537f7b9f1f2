"""Tests of the stateless per-row features that training and serving share."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from fraud_detection.domain import DEVICES, MERCHANT_CATEGORIES
from fraud_detection.pipelines.inference_features.nodes import FeatureParams, build_features
from tests.pipelines.inference_features.conftest import make_scoring_input

PARAMS = FeatureParams(night_end_hour=6, far_from_home_km=100.0, home_currency="EUR")


def _varied_batch() -> pd.DataFrame:
    """Rows that differ in every input a feature reads, including first-time customers."""
    rng = np.random.default_rng(3)
    n = 40
    online = rng.random(n) < 0.5
    return make_scoring_input(
        *(
            {
                "timestamp": pd.Timestamp("2026-01-05") + pd.Timedelta(minutes=int(m)),
                "amount": float(a),
                "merchant_category": MERCHANT_CATEGORIES[i % len(MERCHANT_CATEGORIES)],
                "channel": "online" if o else "in_store",
                "card_present": not o,
                "device": DEVICES[1 + i % 3] if o else "pos_terminal",
                "currency": ("EUR", "GBP", "USD")[i % 3],
                "distance_from_home_km": float(d),
                "amount_sum_24h": float(s),
                "prior_mean_amount": float(p) if i % 4 else 0.0,
                "prior_tx_count": int(i % 4) * 3,
            }
            for i, (m, a, o, d, s, p) in enumerate(
                zip(
                    rng.integers(0, 7 * 24 * 60, n),
                    np.round(rng.lognormal(3, 1.5, n), 2),
                    online,
                    rng.lognormal(2, 2, n),
                    np.round(rng.lognormal(4, 1, n), 2),
                    rng.lognormal(3, 1, n),
                    strict=True,
                )
            )
        )
    )


def _features(frame: pd.DataFrame) -> pd.DataFrame:
    return build_features(frame, PARAMS).drop(columns=["transaction_id", "timestamp", "is_fraud"])


def test_features_of_a_row_worked_out_by_hand():
    """A risky night-time online purchase abroad gives the values computed by hand."""
    row = make_scoring_input(
        {
            "timestamp": pd.Timestamp("2026-01-10 02:15:00"),  # a Saturday, 2 am
            "amount": 99.0,
            "prior_mean_amount": 33.0,
            "amount_sum_24h": 1.0,
            "channel": "online",
            "card_present": False,
            "device": "mobile",
            "merchant_category": "crypto",
            "currency": "GBP",
            "distance_from_home_km": 150.0,
        }
    )
    features = _features(row).iloc[0]
    assert features["log_amount"] == pytest.approx(math.log(100.0))
    assert features["amount_to_prior_mean"] == pytest.approx(3.0)
    assert features["amount_share_24h"] == pytest.approx(0.99)
    assert features[["hour", "day_of_week"]].tolist() == [2.0, 5.0]
    for name in ("is_night", "is_weekend", "is_online", "is_far_from_home", "is_foreign_currency"):
        assert features[name] == 1.0, name
    assert features["card_present"] == 0.0
    assert features["is_risky_category"] == 1.0
    assert features["merchant_category_crypto"] == 1.0
    assert features["device_mobile"] == 1.0
    assert features["log_distance_from_home_km"] == pytest.approx(math.log(151.0))
    assert features["log_amount_sum_7d"] == pytest.approx(math.log(91.0))
    assert features[["tx_count_7d", "prior_tx_count", "hours_since_prev_tx"]].tolist() == [
        4.0,
        12.0,
        5.5,
    ]


def test_an_ordinary_purchase_raises_no_flag():
    """A weekday in-store grocery purchase near home in euros sets none of the risk flags."""
    features = _features(make_scoring_input({})).iloc[0]
    for name in (
        "is_night",
        "is_weekend",
        "is_online",
        "is_far_from_home",
        "is_foreign_currency",
        "is_risky_category",
    ):
        assert features[name] == 0.0, name
    assert features["card_present"] == 1.0
    assert features["amount_to_prior_mean"] == pytest.approx(0.5)


def test_first_purchase_has_neutral_ratios():
    """Without history the amount is as usual (ratio 1) and is all of the last 24 h."""
    first = make_scoring_input(
        {"prior_mean_amount": 0.0, "prior_tx_count": 0, "amount_sum_24h": 0.0}
    )
    features = _features(first).iloc[0]
    assert features["amount_to_prior_mean"] == 1.0
    assert features["amount_share_24h"] == 1.0
    assert features["log_amount_sum_24h"] == 0.0


@pytest.mark.parametrize(
    ("hour", "night_end_hour", "is_night"),
    [(0, 6, 1.0), (5, 6, 1.0), (6, 6, 0.0), (6, 7, 1.0), (23, 6, 0.0), (3, 0, 0.0)],
)
def test_night_ends_at_the_configured_hour(hour, night_end_hour, is_night):
    """Hours before ``night_end_hour`` are night; that hour itself is not."""
    row = make_scoring_input({"timestamp": pd.Timestamp("2026-01-07") + pd.Timedelta(hours=hour)})
    params = PARAMS.model_copy(update={"night_end_hour": night_end_hour})
    assert build_features(row, params)["is_night"].iloc[0] == is_night


@pytest.mark.parametrize(("distance", "far"), [(100.0, 0.0), (100.01, 1.0), (0.0, 0.0)])
def test_far_from_home_is_strictly_beyond_the_threshold(distance, far):
    """Exactly ``far_from_home_km`` away is not far; a bit more is."""
    row = make_scoring_input({"distance_from_home_km": distance})
    assert _features(row)["is_far_from_home"].iloc[0] == far


def test_a_row_alone_gets_the_features_it_gets_in_a_batch():
    """Scoring one request gives bit-identical features to scoring it among others."""
    batch = _varied_batch()
    in_batch = build_features(batch, PARAMS)
    for i in range(len(batch)):
        alone = build_features(batch.iloc[[i]], PARAMS)
        pd.testing.assert_frame_equal(alone, in_batch.iloc[[i]], check_exact=True)


def test_feature_columns_do_not_depend_on_the_categories_present():
    """Batches holding different categories give the same columns, one-hot in domain order."""
    groceries = build_features(make_scoring_input({}), PARAMS)
    varied = build_features(_varied_batch(), PARAMS)
    assert list(groceries.columns) == list(varied.columns)
    one_hot = [c for c in varied.columns if c.startswith("merchant_category_")]
    assert one_hot == [f"merchant_category_{c}" for c in MERCHANT_CATEGORIES]
    assert [c for c in varied.columns if c.startswith("device_")] == [
        f"device_{d}" for d in DEVICES
    ]
    assert (varied[one_hot].sum(axis=1) == 1.0).all()


def test_output_layout_ids_label_then_float_features():
    """``transaction_id``, ``timestamp`` and ``is_fraud`` come first, unchanged; then floats."""
    scoring_input = _varied_batch()
    model_input = build_features(scoring_input, PARAMS)
    assert list(model_input.columns[:3]) == ["transaction_id", "timestamp", "is_fraud"]
    for column in ("transaction_id", "timestamp", "is_fraud"):
        pd.testing.assert_series_equal(model_input[column], scoring_input[column])
    assert (model_input.dtypes.iloc[3:] == np.float64).all()
    assert model_input.index.equals(scoring_input.index)
    assert np.isfinite(model_input.iloc[:, 3:].to_numpy()).all()


def test_a_request_without_label_gets_the_same_features():
    """Without ``is_fraud`` (a serving request) the label column is absent, features equal."""
    batch = _varied_batch()
    without = build_features(batch.drop(columns="is_fraud"), PARAMS)
    assert "is_fraud" not in without.columns
    pd.testing.assert_frame_equal(
        without, build_features(batch, PARAMS).drop(columns="is_fraud"), check_exact=True
    )


def test_unknown_category_sets_no_one_hot_column():
    """A category outside the vocabulary is all zeros rather than a new column."""
    features = _features(make_scoring_input({"merchant_category": "casino", "device": "watch"}))
    one_hot = [c for c in features.columns if c.startswith(("merchant_category_", "device_"))]
    assert (features[one_hot] == 0.0).all(axis=None)


def test_features_leave_their_input_unchanged():
    """The scoring input is not modified in place."""
    batch = _varied_batch()
    before = batch.copy()
    build_features(batch, PARAMS)
    pd.testing.assert_frame_equal(batch, before)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"night_end_hour": 25}, "less than or equal to 24"),
        ({"far_from_home_km": -1.0}, "greater than or equal to 0"),
        ({"home_currency": "XYZ"}, "home_currency 'XYZ' is not one of"),
        ({"night_hour": 6}, "Extra inputs are not permitted"),
    ],
)
def test_bad_parameters_are_refused(values, message):
    """An invalid or misspelt knob fails when the parameters are built, saying which."""
    with pytest.raises(ValidationError, match=message):
        FeatureParams(**values)
