"""The ``evaluation`` pipeline run by Kedro after ``training``, on the project's catalog entries."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner
from kedro.validation import ParameterValidationError

from fraud_detection.pipelines import evaluation, training
from fraud_detection.pipelines.evaluation.nodes import PREDICTION_COLUMNS, fraud_scores
from tests.pipelines.training.conftest import (
    add_params,
    catalog_in,
    load_conf,
    validated_params,
)

FAST = {"max_iter": 60, "min_samples_leaf": 20, "early_stopping": False}


def _catalog(tmp_path, model_input: pd.DataFrame, evaluation_params: dict) -> DataCatalog:
    raw = load_conf("parameters_training")
    raw["training"]["model"].update(FAST)
    raw.update(evaluation_params)
    catalog = catalog_in(tmp_path, "catalog_training", "catalog_evaluation")
    catalog["model_input"] = model_input
    pipeline = training.create_pipeline() + _without_report()
    add_params(catalog, validated_params(pipeline, raw))
    return catalog


def _without_report():
    """The evaluation pipeline less its report notebook (tests/test_project.py runs that one)."""
    pipeline = evaluation.create_pipeline()
    return pipeline - pipeline.only_nodes("model_report")


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, model_input) -> tuple:
    """Training then evaluation on a catalog from conf/base, its files under a temporary folder."""
    tmp_path = tmp_path_factory.mktemp("evaluation")
    catalog = _catalog(tmp_path, model_input, load_conf("parameters_evaluation"))
    SequentialRunner().run(training.create_pipeline() + _without_report(), catalog)
    return tmp_path, catalog


def test_pipeline_writes_metrics_predictions_and_plots(evaluated):
    """metrics.json, the predictions table and both PNGs land where the catalog says."""
    tmp_path, _ = evaluated
    metrics = json.loads((tmp_path / "data/08_reporting/metrics.json").read_text())
    assert set(metrics) == {"model", "baseline", "threshold", "test_rows", "test_positives"}
    predictions = pd.read_parquet(tmp_path / "data/07_model_output/test_predictions.parquet")
    assert list(predictions.columns) == list(PREDICTION_COLUMNS)
    assert len(predictions) == metrics["test_rows"]
    assert predictions["is_fraud"].sum() == metrics["test_positives"]
    for plot in ("pr_curve.png", "score_distributions.png"):
        assert (tmp_path / "data/08_reporting" / plot).read_bytes().startswith(b"\x89PNG")


def test_model_beats_the_baseline_on_the_test_period(evaluated):
    """On fraud the linear baseline cannot see, the model's PR AUC is well above it."""
    tmp_path, _ = evaluated
    metrics = json.loads((tmp_path / "data/08_reporting/metrics.json").read_text())
    assert metrics["model"]["roc_auc"] > 0.9
    assert metrics["model"]["pr_auc"] > metrics["baseline"]["pr_auc"] + 0.3


def test_threshold_respects_the_target_fpr_on_validation(evaluated):
    """The recorded threshold flags at most 1% of the legitimate validation transactions."""
    tmp_path, catalog = evaluated
    metrics = json.loads((tmp_path / "data/08_reporting/metrics.json").read_text())
    validation = catalog.load("validation_set")
    scores = fraud_scores(catalog.load("model"), validation)
    legitimate = validation["is_fraud"].to_numpy() == 0
    assert np.mean(scores[legitimate] >= metrics["threshold"]) <= 0.01


def test_models_are_saved_as_versions(evaluated):
    """Each run adds a version of the model and the baseline under data/06_models."""
    tmp_path, _ = evaluated
    for name in ("model.pkl", "baseline_model.pkl"):
        versions = list((tmp_path / "data/06_models" / name).iterdir())
        assert len(versions) == 1
        assert (versions[0] / name).is_file()


def test_bad_target_fpr_fails_naming_the_key(tmp_path, model_input):
    """A target FPR outside (0, 1) stops the run before any node, naming evaluation."""
    with pytest.raises(ParameterValidationError, match=r"(?s)Parameter 'evaluation'.*target_fpr"):
        _catalog(tmp_path, model_input, {"evaluation": {"target_fpr": 0}})


def test_pipeline_wires_the_documented_datasets():
    """Evaluation reads the models and splits, and writes predictions, metrics and plots."""
    pipeline = evaluation.create_pipeline()
    assert pipeline.inputs() == {
        "model",
        "baseline_model",
        "validation_set",
        "test_set",
        "params:evaluation",
    }
    assert pipeline.all_outputs() == {
        "decision_threshold",
        "test_predictions",
        "metrics",
        "pr_curve",
        "score_distributions",
        "feature_importance",
        "segment_metrics",
    }
