"""What the model's reference profile is made of: its training rows, its evaluation scores.

The profile itself is made by ``lab2prod.monitoring.build_reference`` (wired in pipeline.py);
these functions only pick the example's rows and name its columns.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from fraud_detection.domain import LABEL_COLUMN

LABEL = "label"
"""The label's column in the evaluation rows: ``is_fraud`` names the decision there, as in the
service's response and the prediction log."""


def reference_data(
    scoring_input: pd.DataFrame,
    train_set: pd.DataFrame,
    test_predictions: pd.DataFrame,
    metrics: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """The rows the profile describes.

    Args:
        scoring_input: Every transaction with its activity: what a request carries.
        train_set: The model's training rows (their ids pick the reference inputs).
        test_predictions: The evaluation's scores, decisions and labels on the test period.
        metrics: The evaluation's metrics; ``threshold`` is the decision threshold.

    Returns:
        The training period's requests in time order, their label as ``label``; the test
        period's ``timestamp``, ``fraud_probability``, decision ``is_fraud`` (bool) and
        ``label``; the threshold.

    Raises:
        ValueError: If ``metrics`` holds no threshold.
    """
    if "threshold" not in metrics:
        raise ValueError(
            f"metrics holds no 'threshold' (keys: {sorted(metrics)}); run the evaluation "
            "pipeline first: it chooses the decision threshold and writes metrics.json"
        )
    trained = scoring_input["transaction_id"].isin(train_set["transaction_id"])
    inputs = (
        scoring_input.loc[trained]
        .rename(columns={LABEL_COLUMN: LABEL})
        .sort_values("timestamp", kind="stable", ignore_index=True)
    )
    scored = pd.DataFrame(
        {
            "timestamp": test_predictions["timestamp"].array,
            "fraud_probability": test_predictions["fraud_probability"].array,
            LABEL_COLUMN: test_predictions["predicted"].to_numpy() == 1,
            LABEL: test_predictions[LABEL_COLUMN].to_numpy(),
        }
    )
    return inputs, scored, float(metrics["threshold"])
