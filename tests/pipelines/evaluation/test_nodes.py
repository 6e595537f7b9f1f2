"""The evaluation nodes: threshold, metrics, predictions and plots."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from kedro_datasets.matplotlib import MatplotlibDataset
from matplotlib.figure import Figure
from pydantic import ValidationError
from sklearn.linear_model import LogisticRegression

from fraud_detection.pipelines.evaluation.nodes import (
    PREDICTION_COLUMNS,
    EvaluationParams,
    choose_threshold,
    compute_feature_importance,
    compute_metrics,
    fraud_scores,
    plot_pr_curve,
    plot_score_distributions,
    predict_test,
    recall_at_fpr,
    threshold_for_fpr,
)
from tests.pipelines.training.conftest import FEATURES, make_model_input


def _fpr(labels: np.ndarray, scores: np.ndarray, threshold: float) -> float:
    return float((scores[labels == 0] >= threshold).mean())


def _predictions(labels: list[int], predicted: list[int], scores: list[float]) -> pd.DataFrame:
    n_rows = len(labels)
    return pd.DataFrame(
        {
            "transaction_id": [f"tx{i:010d}" for i in range(n_rows)],
            "timestamp": pd.date_range("2026-03-01", periods=n_rows, freq="min", unit="us"),
            "is_fraud": np.array(labels, dtype="int8"),
            "fraud_probability": scores,
            "baseline_probability": scores[::-1],
            "predicted": np.array(predicted, dtype="int8"),
        }
    )


@pytest.fixture(scope="module")
def fitted() -> tuple[LogisticRegression, pd.DataFrame]:
    """A quick classifier fitted on the synthetic features, and rows to score."""
    table = make_model_input(1000, seed=5)
    model = LogisticRegression().fit(table[FEATURES], table["is_fraud"])
    return model, table


@pytest.mark.parametrize("target_fpr", [0.01, 0.05, 0.2])
def test_threshold_is_the_smallest_within_the_target_fpr(target_fpr):
    """The threshold flags at most the target share of legitimate rows; any lower score, more."""
    rng = np.random.default_rng(1)
    labels = (rng.random(5000) < 0.03).astype(int)
    scores = np.round(rng.random(5000) * 0.8 + labels * 0.3, 3)  # rounding makes ties
    threshold = threshold_for_fpr(labels, scores, target_fpr)
    assert _fpr(labels, scores, threshold) <= target_fpr
    next_lower = scores[scores < threshold].max()
    assert _fpr(labels, scores, next_lower) > target_fpr


def test_threshold_flags_nothing_when_top_scores_are_legitimate_ties():
    """When even the highest score flags too many legitimate rows, the threshold is above it."""
    labels = np.array([0, 0, 0, 1, 0])
    scores = np.array([0.9, 0.9, 0.9, 0.5, 0.1])
    threshold = threshold_for_fpr(labels, scores, 0.1)
    assert np.isfinite(threshold)
    assert threshold > 0.9
    assert _fpr(labels, scores, threshold) == 0.0


def test_choose_threshold_meets_the_target_on_validation(fitted):
    """The node's threshold keeps the validation false-positive rate within the parameter."""
    model, validation = fitted
    threshold = choose_threshold(model, validation, EvaluationParams(target_fpr=0.05))
    scores = model.predict_proba(validation[FEATURES])[:, 1]
    assert _fpr(validation["is_fraud"].to_numpy(), scores, threshold) <= 0.05


def test_recall_at_1pct_fpr_on_a_hand_made_example():
    """With 200 legitimate rows, 2 may be flagged: 3 of 10 fraud rank above the 3rd of them."""
    negatives = [0.99, 0.98, 0.97, *np.linspace(0.0, 0.3, 197)]
    positives = [0.995, 0.985, 0.975, 0.96, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    labels = np.array([0] * len(negatives) + [1] * len(positives))
    scores = np.array(negatives + positives)
    assert recall_at_fpr(labels, scores, 0.01) == pytest.approx(0.3)
    assert recall_at_fpr(labels, scores, 0.015) == pytest.approx(1.0)


def test_metrics_hold_the_documented_keys_and_hand_checked_values():
    """metrics.json has model, baseline, threshold and test counts; decisions are counted right."""
    labels = [1, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    predicted = [1, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    scores = [0.9, 0.4, 0.8, 0.1, 0.2, 0.3, 0.05, 0.15, 0.25, 0.35]
    metrics = compute_metrics(_predictions(labels, predicted, scores), threshold=0.5)
    assert set(metrics) == {"model", "baseline", "threshold", "test_rows", "test_positives"}
    assert set(metrics["model"]) == {
        "pr_auc",
        "roc_auc",
        "recall_at_1pct_fpr",
        "precision",
        "recall",
        "fpr",
    }
    assert set(metrics["baseline"]) == {"pr_auc", "roc_auc", "recall_at_1pct_fpr"}
    assert (metrics["threshold"], metrics["test_rows"], metrics["test_positives"]) == (0.5, 10, 3)
    assert metrics["model"]["precision"] == pytest.approx(1 / 2)
    assert metrics["model"]["recall"] == pytest.approx(1 / 3)
    assert metrics["model"]["fpr"] == pytest.approx(1 / 7)
    assert metrics["model"]["roc_auc"] == pytest.approx(19 / 21)


def test_metrics_log_a_one_line_summary(caplog):
    """Computing the metrics logs one line with the headline numbers."""
    caplog.set_level("INFO", logger="fraud_detection.pipelines.evaluation.nodes")
    compute_metrics(_predictions([1, 0, 0, 1], [1, 0, 0, 0], [0.9, 0.2, 0.1, 0.3]), 0.5)
    (record,) = caplog.records
    assert "\n" not in record.getMessage()
    assert "model PR AUC" in record.getMessage()


def test_metrics_need_both_fraud_and_legitimate_rows():
    """A test period without fraud fails clearly instead of writing NaN metrics."""
    with pytest.raises(ValueError, match="has 0 fraud among 3 rows"):
        compute_metrics(_predictions([0, 0, 0], [0, 0, 0], [0.1, 0.2, 0.3]), 0.5)


def test_predictions_table_scores_every_row_and_applies_the_threshold(fitted):
    """One row per test transaction, both scores in [0, 1], predicted == score >= threshold."""
    model, test = fitted
    before = test.copy()
    predictions = predict_test(model, model, test, threshold=0.05)
    pd.testing.assert_frame_equal(test, before)
    assert list(predictions.columns) == list(PREDICTION_COLUMNS)
    assert predictions["transaction_id"].tolist() == test["transaction_id"].tolist()
    for column in ("fraud_probability", "baseline_probability"):
        assert predictions[column].between(0.0, 1.0).all()
    expected = (predictions["fraud_probability"] >= 0.05).astype("int8")
    pd.testing.assert_series_equal(predictions["predicted"], expected, check_names=False)
    assert predictions["is_fraud"].dtype == "int8"


def test_scoring_a_table_without_a_trained_feature_names_it(fitted):
    """Rows lacking a feature the model knows fail naming that feature."""
    model, table = fitted
    with pytest.raises(ValueError, match=r"lacks feature\(s\) \['x1'\]"):
        fraud_scores(model, table.drop(columns="x1"))


def test_target_fpr_must_be_a_rate():
    """A target false-positive rate outside (0, 1) is refused."""
    with pytest.raises(ValidationError, match="target_fpr"):
        EvaluationParams(target_fpr=1.5)


@pytest.mark.parametrize("plot", [plot_pr_curve, plot_score_distributions])
def test_plots_save_as_png_and_leave_no_open_figure(plot, tmp_path):
    """Each plot is a figure the catalog saves as PNG, and pyplot holds no figure afterwards."""
    rng = np.random.default_rng(2)
    labels = (rng.random(500) < 0.1).astype(int).tolist()
    scores = np.clip(rng.random(500) * 0.7 + np.array(labels) * 0.3, 0, 1).tolist()
    predicted = [int(score >= 0.8) for score in scores]
    figure = plot(_predictions(labels, predicted, scores), 0.8)
    assert isinstance(figure, Figure)
    assert plt.get_fignums() == []
    path = tmp_path / "plot.png"
    MatplotlibDataset(filepath=str(path)).save(figure)
    assert path.read_bytes().startswith(b"\x89PNG")
    if plot is plot_score_distributions:
        assert figure.axes[0].get_yscale() == "log"


def test_feature_importance_ranks_the_informative_features_first():
    """Shuffling a feature the model uses costs PR AUC; shuffling noise costs about nothing."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    table = make_model_input(3000, seed=7)
    model = HistGradientBoostingClassifier(max_iter=60, random_state=0)
    model.fit(table[FEATURES], table["is_fraud"])
    params = EvaluationParams(importance_rows=1000, importance_repeats=2)
    importance = compute_feature_importance(model, table, params)
    assert list(importance.columns) == ["feature", "importance_mean", "importance_std"]
    assert set(importance["feature"]) == set(FEATURES)
    assert importance["feature"].iloc[-1] == "noise"
    assert importance["importance_mean"].iloc[0] > 0.01
    assert importance["importance_mean"].is_monotonic_decreasing
