"""Scoring nodes: probabilities from the fitted model, decisions at the threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from fraud_detection.pipelines.inference.nodes import (
    PREDICTION_COLUMNS,
    fraud_scores,
    score_transactions,
)


@pytest.fixture(scope="module")
def model() -> LogisticRegression:
    features = pd.DataFrame({"x0": [0.0, 1.0, 2.0, 3.0], "x1": [1.0, 0.0, 1.0, 0.0]})
    return LogisticRegression().fit(features, [0, 0, 1, 1])


def model_input(x0: list[float]) -> pd.DataFrame:
    n = len(x0)
    return pd.DataFrame(
        {"transaction_id": [f"tx{i}" for i in range(n)], "x0": x0, "x1": [0.5] * n},
        index=pd.RangeIndex(10, 10 + n),
    )


def test_score_transactions_flags_scores_at_or_above_the_threshold(model):
    """Each row gets its probability and is_fraud = probability >= threshold, index kept."""
    table = model_input([0.0, 1.5, 3.0])
    probability = model.predict_proba(table[["x0", "x1"]])[:, 1]

    predictions = score_transactions(table, model, decision_threshold=float(probability[1]))

    assert list(predictions.columns) == list(PREDICTION_COLUMNS)
    assert predictions.index.equals(table.index)
    np.testing.assert_array_equal(predictions["fraud_probability"], probability)
    assert predictions["is_fraud"].tolist() == [False, True, True]
    assert predictions["is_fraud"].dtype == bool


def test_fraud_scores_names_missing_features(model):
    """A table without a feature the model was trained on fails naming it."""
    with pytest.raises(ValueError, match=r"lacks feature\(s\) \['x1'\]"):
        fraud_scores(model, model_input([1.0]).drop(columns="x1"))
