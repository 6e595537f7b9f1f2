"""Scoring features with the fitted model: the fraud probability and the decision at a threshold.

The evaluation scores the test period with :func:`fraud_scores` and the service scores requests
with it, so the two cannot compute a probability differently.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

PREDICTION_COLUMNS: tuple[str, ...] = ("transaction_id", "fraud_probability", "is_fraud")
"""Columns of ``predictions``, in order."""


class Classifier(Protocol):
    """What scoring needs of a fitted model: sklearn's ``predict_proba`` and feature names."""

    feature_names_in_: np.ndarray

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray: ...


def fraud_scores(model: Classifier, table: pd.DataFrame) -> np.ndarray:
    """Score each row of a ``model_input``-shaped table with a fitted classifier.

    Args:
        model: A fitted sklearn classifier that recorded its feature names.
        table: Rows holding at least the model's feature columns.

    Returns:
        The probability of fraud (class 1) of each row, as float64.

    Raises:
        ValueError: If ``table`` lacks a feature the model was trained on.
    """
    features = list(model.feature_names_in_)
    missing = [feature for feature in features if feature not in table.columns]
    if missing:
        raise ValueError(
            f"The table lacks feature(s) {missing} that the model was trained on; "
            "retrain the model or rebuild the table with the same inference_features pipeline"
        )
    return model.predict_proba(table[features])[:, 1].astype(np.float64)


def score_transactions(
    model_input: pd.DataFrame, model: Classifier, decision_threshold: float
) -> pd.DataFrame:
    """Score each transaction and flag those at or above the decision threshold.

    Args:
        model_input: The features of the transactions (the ``inference_features`` output).
        model: The fitted fraud model.
        decision_threshold: The threshold the evaluation chose on the validation period.

    Returns:
        ``predictions``: one row per transaction, with the columns of ``PREDICTION_COLUMNS``
        (``is_fraud`` a bool), on the index of ``model_input``.
    """
    probability = fraud_scores(model, model_input)
    return pd.DataFrame(
        {
            "transaction_id": model_input["transaction_id"].array,
            "fraud_probability": probability,
            "is_fraud": probability >= decision_threshold,
        },
        index=model_input.index,
    )
