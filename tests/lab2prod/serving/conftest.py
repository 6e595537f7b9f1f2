"""Fixtures of the lab2prod.serving tests: a throwaway BentoML home, a small scoring setup."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from fraud_detection.pipelines.inference_features.nodes import FeatureParams, build_features
from tests.pipelines.inference_features.conftest import make_scoring_input
from tests.serving.server import isolate_bentoml_home


def pytest_configure(config: pytest.Config) -> None:
    isolate_bentoml_home()


def scoring_rows() -> pd.DataFrame:
    """Eight ``scoring_input`` rows, half of them fraud-like (big, online, at night)."""
    ordinary = [{"amount": 10.0 + i} for i in range(4)]
    odd = [
        {
            "amount": 900.0 + i,
            "channel": "online",
            "card_present": False,
            "device": "mobile",
            "merchant_category": "crypto",
            "timestamp": pd.Timestamp(f"2026-01-07 0{i}:30:00"),
            "is_fraud": 1,
        }
        for i in range(4)
    ]
    return make_scoring_input(*ordinary, *odd)


@pytest.fixture(scope="session")
def scoring_input() -> pd.DataFrame:
    """Eight ``scoring_input`` rows (see :func:`scoring_rows`)."""
    return scoring_rows()


@pytest.fixture(scope="session")
def fitted_model(scoring_input: pd.DataFrame) -> LogisticRegression:
    """A classifier fitted on the features of ``scoring_input`` (it records their names)."""
    features = build_features(scoring_input, FeatureParams()).drop(
        columns=["transaction_id", "timestamp", "is_fraud"]
    )
    return LogisticRegression(max_iter=1000).fit(features, scoring_input["is_fraud"])
