"""The training nodes: time split, the gradient-boosted model and the linear baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.metrics import roc_auc_score

from fraud_detection.pipelines.training.nodes import (
    BaselineParams,
    ModelParams,
    SplitParams,
    feature_columns,
    split_by_time,
    train_baseline,
    train_model,
)
from tests.pipelines.training.conftest import FEATURES, SPAN, START, make_model_input

FAST_MODEL = ModelParams(max_iter=100, min_samples_leaf=20, early_stopping=False)


@pytest.fixture(scope="module")
def splits(model_input: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The default 70/15/15 split of the synthetic input."""
    return split_by_time(model_input, SplitParams())


def test_split_is_time_ordered_and_covers_every_row_once(model_input, splits):
    """Train precedes validation precedes test, and each input row lands in exactly one split."""
    train, validation, test = splits
    assert train["timestamp"].max() < validation["timestamp"].min()
    assert validation["timestamp"].max() < test["timestamp"].min()
    ids = pd.concat([train, validation, test])["transaction_id"]
    assert ids.is_unique
    assert sorted(ids) == sorted(model_input["transaction_id"])
    assert list(train.columns) == list(model_input.columns)


@pytest.mark.parametrize("fractions", [(0.7, 0.15, 0.15), (0.5, 0.2, 0.3)])
def test_split_cuts_the_time_span_at_the_fractions(model_input, fractions):
    """Each split covers its share of the time span, so evenly spread rows split in proportion."""
    params = SplitParams(
        train_fraction=fractions[0], validation_fraction=fractions[1], test_fraction=fractions[2]
    )
    train, validation, test = split_by_time(model_input, params)
    train_end = START + SPAN * fractions[0]
    validation_end = START + SPAN * (fractions[0] + fractions[1])
    assert train["timestamp"].max() < train_end <= validation["timestamp"].min()
    assert validation["timestamp"].max() < validation_end <= test["timestamp"].min()
    shares = np.array([len(train), len(validation), len(test)]) / len(model_input)
    np.testing.assert_allclose(shares, fractions, atol=0.002)


def test_split_keeps_input_order_and_leaves_the_input_alone(model_input):
    """Rows are not shuffled, and the caller's table is unchanged."""
    before = model_input.copy()
    train, _, _ = split_by_time(model_input, SplitParams())
    pd.testing.assert_frame_equal(model_input, before)
    assert train["timestamp"].is_monotonic_increasing
    assert train["transaction_id"].tolist() == model_input["transaction_id"][: len(train)].tolist()


def test_rows_out_of_time_order_split_as_in_order(model_input, splits):
    """Shuffled rows land in the same periods as sorted ones, each split in the input's order."""
    shuffled = model_input.sample(frac=1.0, random_state=0)
    for in_order, out_of_order in zip(splits, split_by_time(shuffled, SplitParams()), strict=True):
        expected = shuffled[shuffled["transaction_id"].isin(in_order["transaction_id"])]
        pd.testing.assert_frame_equal(out_of_order, expected.reset_index(drop=True))


@pytest.mark.parametrize(
    ("period", "message"),
    [
        ((0.0, 0.7), "The train (2,100 rows) split(s)"),
        ((0.7, 0.85), "The validation (450 rows) split(s)"),
        ((0.85, 1.01), "The test (450 rows) split(s)"),
        ((0.7, 1.01), "The validation (450 rows), test (450 rows) split(s)"),
    ],
)
def test_split_without_fraud_names_the_split_and_the_fix(model_input, period, message):
    """A split with no fraud fails naming it and suggesting more data or other fractions."""
    position = np.arange(len(model_input)) / (len(model_input) - 1)
    in_period = (position >= period[0]) & (position < period[1])
    no_fraud_there = model_input.assign(is_fraud=model_input["is_fraud"].where(~in_period, 0))
    with pytest.raises(ValueError, match="hold no fraud") as error:
        split_by_time(no_fraud_there, SplitParams())
    assert message in str(error.value)
    assert "Use more data" in str(error.value)
    assert "training.split" in str(error.value)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"train_fraction": 0.8}, "must be 1, got 1.1"),
        ({"train_fraction": 0.0, "test_fraction": 0.85}, "greater than 0"),
        ({"train_fration": 0.7}, "Extra inputs are not permitted"),
    ],
)
def test_split_params_reject_fractions_that_do_not_cover_the_span(values, message):
    """Fractions must be in (0, 1), sum to 1, and be spelled right."""
    with pytest.raises(ValidationError, match=message):
        SplitParams(**values)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"learning_rate": -0.1}, "learning_rate"),
        ({"max_iter": 0}, "max_iter"),
        ({"class_weight": "balnced"}, "class_weight"),
        ({"max_leaf_node": 15}, "Extra inputs are not permitted"),
    ],
)
def test_model_params_reject_bad_values(values, message):
    """A bad hyper-parameter fails naming the field."""
    with pytest.raises(ValidationError, match=message):
        ModelParams(**values)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda df: df.drop(columns="timestamp"), r"lacks the column\(s\) \['timestamp'\]"),
        (lambda df: df[["transaction_id", "timestamp", "is_fraud"]], "no feature column"),
        (lambda df: df.assign(country="NL"), r"\['country'\] are not numeric"),
    ],
)
def test_malformed_model_input_is_rejected(model_input, change, message):
    """A missing key column, no features or a text feature fail with the offending names."""
    with pytest.raises(ValueError, match=message):
        feature_columns(change(model_input))


def test_models_record_features_and_give_probabilities(splits):
    """Both models remember the feature columns and score every row within [0, 1]."""
    train, validation, _ = splits
    for model in (train_model(train, FAST_MODEL), train_baseline(train, BaselineParams())):
        assert list(model.feature_names_in_) == FEATURES
        scores = model.predict_proba(validation[FEATURES])[:, 1]
        assert scores.shape == (len(validation),)
        assert ((scores >= 0.0) & (scores <= 1.0)).all()


def test_model_finds_the_interaction_the_baseline_cannot(splits):
    """On fraud in a square of two features the boosted model ranks well, the baseline cannot."""
    train, _, test = splits
    model = train_model(train, FAST_MODEL)
    baseline = train_baseline(train, BaselineParams())
    model_auc = roc_auc_score(test["is_fraud"], model.predict_proba(test[FEATURES])[:, 1])
    baseline_auc = roc_auc_score(test["is_fraud"], baseline.predict_proba(test[FEATURES])[:, 1])
    assert model_auc > 0.9
    assert baseline_auc < 0.7
    assert model_auc > baseline_auc + 0.25


def test_training_is_seeded():
    """Two fits on the same data and parameters give the same scores (early stopping included)."""
    train = make_model_input(1500, seed=3)
    params = ModelParams(max_iter=50, min_samples_leaf=20, n_iter_no_change=5)
    first, second = (train_model(train, params) for _ in range(2))
    np.testing.assert_array_equal(
        first.predict_proba(train[FEATURES]), second.predict_proba(train[FEATURES])
    )


def test_training_leaves_the_training_set_alone(splits):
    """Fitting does not change the table it was given."""
    train = splits[0]
    before = train.copy()
    train_model(train, FAST_MODEL)
    train_baseline(train, BaselineParams())
    pd.testing.assert_frame_equal(train, before)
