"""package_model gathers what the service needs, under the names the inference pipeline reads."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from fraud_detection.pipelines.inference import create_pipeline as inference_pipeline
from fraud_detection.pipelines.inference_features.nodes import FeatureParams
from fraud_detection.pipelines.packaging.nodes import package_model
from fraud_detection.pipelines.training.nodes import ModelParams, SplitParams

TRAIN_SET = pd.DataFrame({"x0": [0.0, 1.0, 2.0, 3.0], "is_fraud": [0, 0, 1, 1]})
METRICS = {"model": {"pr_auc": 0.5}, "threshold": 0.25}


@pytest.fixture(scope="module")
def model() -> LogisticRegression:
    return LogisticRegression().fit(TRAIN_SET[["x0"]], TRAIN_SET["is_fraud"])


def package(model, metrics=METRICS) -> dict:
    return package_model(
        model, metrics, TRAIN_SET, FeatureParams(), SplitParams(), ModelParams(max_iter=10)
    )


def test_package_binds_every_fixed_input_of_the_inference_pipeline(model):
    """model, decision_threshold and params:inference_features: all but the request."""
    packaged = package(model)
    bound = set(packaged["artifacts"]) | set(packaged["inputs"])
    bound |= {f"params:{name}" for name in packaged["parameters"]}
    assert inference_pipeline().inputs() - bound == {"scoring_input"}
    assert packaged["inputs"] == {"decision_threshold": 0.25}
    assert packaged["artifacts"]["model"] is model


def test_package_keeps_metrics_and_training_parameters(model):
    """The metadata tells how the model was trained and how good it was."""
    metadata = package(model)["metadata"]
    assert metadata["metrics"] == METRICS
    assert metadata["feature_columns"] == ["x0"]
    assert metadata["training"]["model"]["max_iter"] == 10
    assert metadata["training"]["split"]["train_fraction"] == 0.7


def test_package_carries_the_reference_profile_as_a_document(model):
    """The monitoring's reference travels in the package, as a document; without one, none."""
    profile = {"lab2prod_profile": 1, "columns": []}
    packaged = package_model(
        model, METRICS, TRAIN_SET, FeatureParams(), SplitParams(), ModelParams(), profile
    )
    assert packaged["documents"] == {"reference_profile": profile}
    assert "documents" not in package(model)


def test_metrics_without_a_threshold_fail_clearly(model):
    """Packaging before the evaluation chose a threshold names the fix."""
    with pytest.raises(ValueError, match="run the evaluation pipeline first"):
        package(model, metrics={"model": {}})
