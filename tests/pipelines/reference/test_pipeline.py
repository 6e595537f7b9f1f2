"""The ``reference`` pipeline: the profile of the training rows and of the evaluation's scores."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from fraud_detection.pipelines.inference_features.nodes import FeatureParams, build_features
from fraud_detection.pipelines.reference import create_pipeline
from fraud_detection.pipelines.reference.nodes import reference_data
from fraud_detection.pipelines.training.nodes import SplitParams, split_by_time
from lab2prod.monitoring import ReferenceProfile
from tests.pipelines.monitoring.conftest import transactions
from tests.pipelines.training.conftest import add_params, load_conf, validated_params


@pytest.fixture(scope="module")
def inputs() -> dict:
    """A tiny generated world, split as training splits it, with made-up test scores."""
    scoring_input = transactions(n_transactions=6_000, n_customers=300, n_merchants=50)
    train_set, _, test_set = split_by_time(
        build_features(scoring_input, FeatureParams()), SplitParams()
    )
    rng = np.random.default_rng(0)
    score = np.where(test_set["is_fraud"] == 1, 0.6, 0.01) * rng.uniform(0.5, 1.5, len(test_set))
    test_predictions = pd.DataFrame(
        {
            "transaction_id": test_set["transaction_id"],
            "timestamp": test_set["timestamp"],
            "is_fraud": test_set["is_fraud"],
            "fraud_probability": score,
            "baseline_probability": score,
            "predicted": (score >= 0.3).astype("int8"),
        }
    )
    return {
        "scoring_input": scoring_input,
        "train_set": train_set,
        "test_predictions": test_predictions,
        "metrics": {"threshold": 0.3},
    }


def test_reference_rows_are_the_training_period_and_the_evaluation_scores(inputs):
    """Inputs: exactly the training rows, their label as `label`; scores: the test period with
    the decision under the log's name `is_fraud` and the label beside it."""
    rows, scored, threshold = reference_data(**inputs)
    assert set(rows["transaction_id"]) == set(inputs["train_set"]["transaction_id"])
    assert rows["timestamp"].is_monotonic_increasing
    assert "label" in rows.columns and "is_fraud" not in rows.columns
    assert list(scored.columns) == ["timestamp", "fraud_probability", "is_fraud", "label"]
    assert scored["is_fraud"].dtype == bool and threshold == 0.3


def test_pipeline_profiles_every_configured_column_as_json(inputs, tmp_path):
    """With conf/base, a run saves a JSON profile of each monitored column, the score and the
    decision, the evaluation's metrics and the training period's labels."""
    catalog = DataCatalog.from_config(
        {
            "reference_profile": {
                "type": "json.JSONDataset",
                "filepath": str(tmp_path / "profile.json"),
            }
        }
    )
    for name, value in inputs.items():
        catalog[name] = value
    add_params(catalog, validated_params(create_pipeline(), load_conf("parameters_reference")))

    SequentialRunner().run(create_pipeline(), catalog)

    data = json.loads((tmp_path / "profile.json").read_text())
    profile = ReferenceProfile.from_dict(data)
    conf = load_conf("parameters_reference")["reference"]
    assert profile.names == [
        *conf["numeric"],
        *conf["categorical"],
        "fraud_probability",
        "is_fraud",
    ]
    assert profile.threshold == 0.3
    assert np.nextafter(0.3, 0) in profile.column("fraud_probability").edges
    assert profile.performance["rows"] == len(inputs["test_predictions"])
    positives, rows = profile.label_rate
    assert positives == int(inputs["train_set"]["is_fraud"].sum()) or rows < len(
        inputs["train_set"]
    )
    first = pd.Timestamp(profile.periods["input"]["start"])
    assert first >= inputs["train_set"]["timestamp"].min() + pd.Timedelta("7D")


def test_pipeline_wires_the_documented_datasets():
    """The reference reads what data processing, training and evaluation wrote."""
    pipeline = create_pipeline()
    assert pipeline.inputs() == {
        "scoring_input",
        "train_set",
        "test_predictions",
        "metrics",
        "params:reference",
    }
    assert pipeline.outputs() == {"reference_profile"}
