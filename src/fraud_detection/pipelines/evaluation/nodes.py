"""Judging the fraud model against its baseline on the held-out test period.

The decision threshold is chosen on the validation period, for a target share of legitimate
transactions flagged (false-positive rate); the test period is touched only to measure. Plots are
built on ``matplotlib.figure.Figure`` directly, not pyplot, so they use the Agg canvas whatever the
backend and nothing keeps them alive after the catalog has saved them.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pydantic import BaseModel, ConfigDict, Field
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from fraud_detection.domain import LABEL_COLUMN
from fraud_detection.pipelines.inference.nodes import Classifier, fraud_scores

logger = logging.getLogger(__name__)

REPORT_FPR = 0.01
"""False-positive rate at which ``recall_at_1pct_fpr`` is read (its name fixes it)."""

PREDICTION_COLUMNS: tuple[str, ...] = (
    "transaction_id",
    "timestamp",
    LABEL_COLUMN,
    "fraud_probability",
    "baseline_probability",
    "predicted",
)
"""Columns of ``test_predictions``, in order."""


class EvaluationParams(BaseModel):
    """Knobs of the evaluation (``evaluation`` in ``parameters_evaluation.yml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target_fpr: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.01
    """Largest share of legitimate validation transactions the threshold may flag."""
    importance_rows: Annotated[int, Field(ge=100)] = 20_000
    """Test rows sampled for permutation importance (it rescores them once per feature)."""
    importance_repeats: Annotated[int, Field(ge=1)] = 3
    """Shuffles per feature; the report shows their mean and standard deviation."""
    random_state: int = 0


def threshold_for_fpr(labels: np.ndarray, scores: np.ndarray, target_fpr: float) -> float:
    """Find the smallest threshold whose false-positive rate is at most ``target_fpr``.

    A row is flagged when its score is at least the threshold. Candidates are the distinct scores;
    if even the highest flags too many legitimate rows, the threshold sits just above it and
    flags nothing.

    Args:
        labels: 1 for fraud, 0 for legitimate.
        scores: Higher means more likely fraud.
        target_fpr: The largest acceptable share of legitimate rows flagged.

    Returns:
        The threshold, a finite float.

    Raises:
        ValueError: If there is no legitimate row (the false-positive rate is undefined).
    """
    if not (np.asarray(labels) == 0).any():
        raise ValueError("No legitimate row (is_fraud == 0): the false-positive rate is undefined")
    fpr, _, thresholds = roc_curve(labels, scores, drop_intermediate=False)
    # roc_curve starts from +inf (nothing flagged, FPR 0), so some threshold always qualifies.
    threshold = float(thresholds[fpr <= target_fpr].min())
    if not np.isfinite(threshold):
        threshold = float(np.nextafter(np.max(scores), np.inf))
    return threshold


def recall_at_fpr(labels: np.ndarray, scores: np.ndarray, max_fpr: float = REPORT_FPR) -> float:
    """Read the share of fraud caught on the ROC curve where at most ``max_fpr`` is flagged.

    This is the best recall of any threshold on these rows, a property of the ranking; the
    recall at the threshold chosen on validation is reported beside it.

    Args:
        labels: 1 for fraud, 0 for legitimate; both must occur.
        scores: Higher means more likely fraud.
        max_fpr: The largest acceptable false-positive rate.

    Returns:
        The highest true-positive rate among thresholds with false-positive rate <= ``max_fpr``.
    """
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    return float(tpr[fpr <= max_fpr].max())


def choose_threshold(
    model: Classifier, validation_set: pd.DataFrame, params: EvaluationParams
) -> float:
    """Choose the model's decision threshold on the validation period.

    Args:
        model: The fitted fraud model.
        validation_set: The validation split of ``model_input``.
        params: Holds the target false-positive rate.

    Returns:
        The smallest threshold whose validation false-positive rate is at most the target.
    """
    scores = fraud_scores(model, validation_set)
    return threshold_for_fpr(validation_set[LABEL_COLUMN].to_numpy(), scores, params.target_fpr)


def predict_test(
    model: Classifier, baseline_model: Classifier, test_set: pd.DataFrame, threshold: float
) -> pd.DataFrame:
    """Score the test period with both models and apply the decision threshold.

    Args:
        model: The fitted fraud model.
        baseline_model: The fitted baseline.
        test_set: The test split of ``model_input``.
        threshold: The model's decision threshold.

    Returns:
        One row per test transaction, with the columns of ``PREDICTION_COLUMNS``.
    """
    fraud_probability = fraud_scores(model, test_set)
    return pd.DataFrame(
        {
            "transaction_id": test_set["transaction_id"],
            "timestamp": test_set["timestamp"],
            LABEL_COLUMN: test_set[LABEL_COLUMN].astype("int8"),
            "fraud_probability": fraud_probability,
            "baseline_probability": fraud_scores(baseline_model, test_set),
            "predicted": (fraud_probability >= threshold).astype("int8"),
        },
        columns=list(PREDICTION_COLUMNS),
    ).reset_index(drop=True)


def _ranking_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    return {
        "pr_auc": float(average_precision_score(labels, scores)),
        "roc_auc": float(roc_auc_score(labels, scores)),
        "recall_at_1pct_fpr": recall_at_fpr(labels, scores, REPORT_FPR),
    }


def compute_metrics(test_predictions: pd.DataFrame, threshold: float) -> dict[str, Any]:
    """Measure both models on the test period, and the model's decisions at the threshold.

    Args:
        test_predictions: The output of ``predict_test``.
        threshold: The model's decision threshold.

    Returns:
        ``{"model": {...}, "baseline": {...}, "threshold", "test_rows", "test_positives"}``, where
        both hold ``pr_auc``, ``roc_auc`` and ``recall_at_1pct_fpr``, and the model also
        ``precision``, ``recall`` and ``fpr`` at the threshold.

    Raises:
        ValueError: If the test period lacks fraud or legitimate rows (nothing to rank).
    """
    labels = test_predictions[LABEL_COLUMN].to_numpy()
    positives = int(labels.sum())
    if positives in (0, len(labels)):
        raise ValueError(
            f"The test set has {positives:,} fraud among {len(labels):,} rows: ranking metrics "
            "need both fraud and legitimate rows"
        )
    flagged = test_predictions["predicted"].to_numpy() == 1
    true_positives = int((flagged & (labels == 1)).sum())
    false_positives = int((flagged & (labels == 0)).sum())
    model = {
        **_ranking_metrics(labels, test_predictions["fraud_probability"].to_numpy()),
        "precision": true_positives / int(flagged.sum()) if flagged.any() else 0.0,
        "recall": true_positives / positives,
        "fpr": false_positives / (len(labels) - positives),
    }
    baseline = _ranking_metrics(labels, test_predictions["baseline_probability"].to_numpy())
    logger.info(
        "Test period (%d rows, %d fraud): model PR AUC %.3f vs baseline %.3f; "
        "recall at 1%% FPR %.3f vs %.3f; at threshold %.4f precision %.3f, recall %.3f, "
        "FPR %.4f",
        len(labels),
        positives,
        model["pr_auc"],
        baseline["pr_auc"],
        model["recall_at_1pct_fpr"],
        baseline["recall_at_1pct_fpr"],
        threshold,
        model["precision"],
        model["recall"],
        model["fpr"],
    )
    return {
        "model": model,
        "baseline": baseline,
        "threshold": float(threshold),
        "test_rows": len(labels),
        "test_positives": positives,
    }


def plot_pr_curve(test_predictions: pd.DataFrame, threshold: float) -> Figure:
    """Draw the precision-recall curves of the model and the baseline on the test period.

    Args:
        test_predictions: The output of ``predict_test``.
        threshold: The model's decision threshold, marked on its curve.

    Returns:
        The figure (not registered with pyplot).
    """
    labels = test_predictions[LABEL_COLUMN].to_numpy()
    figure = Figure(figsize=(6.4, 4.8), layout="constrained")
    axes = figure.add_subplot()
    for column, name in (("fraud_probability", "model"), ("baseline_probability", "baseline")):
        scores = test_predictions[column].to_numpy()
        precision, recall, _ = precision_recall_curve(labels, scores, drop_intermediate=True)
        pr_auc = average_precision_score(labels, scores)
        axes.step(recall, precision, where="post", label=f"{name} (PR AUC {pr_auc:.3f})")
    flagged = test_predictions["predicted"].to_numpy() == 1
    if flagged.any():
        caught = (flagged & (labels == 1)).sum()
        axes.plot(
            caught / labels.sum(),
            caught / flagged.sum(),
            "ko",
            label=f"model at threshold {threshold:.3g}",
        )
    axes.axhline(labels.mean(), color="grey", linestyle=":", label="chance (fraud rate)")
    axes.set(
        xlabel="recall (share of fraud caught)",
        ylabel="precision (share of flags that are fraud)",
        xlim=(0, 1),
        ylim=(0, 1.02),
        title=f"Test period: {len(labels):,} transactions, {int(labels.sum()):,} fraud",
    )
    axes.legend(loc="lower left")
    return figure


def plot_score_distributions(test_predictions: pd.DataFrame, threshold: float) -> Figure:
    """Draw histograms of the model's scores for fraud and legitimate test rows, log count axis.

    Args:
        test_predictions: The output of ``predict_test``.
        threshold: The model's decision threshold, drawn as a vertical line.

    Returns:
        The figure (not registered with pyplot).
    """
    labels = test_predictions[LABEL_COLUMN].to_numpy()
    scores = test_predictions["fraud_probability"].to_numpy()
    bins = np.linspace(0.0, 1.0, 51)
    figure = Figure(figsize=(6.4, 4.8), layout="constrained")
    axes = figure.add_subplot()
    for value, name in ((0, "legitimate"), (1, "fraud")):
        axes.hist(scores[labels == value], bins=bins, alpha=0.6, label=name)
    axes.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3g}")
    axes.set_yscale("log")
    axes.set(xlabel="model score (fraud_probability)", ylabel="transactions (log scale)")
    axes.legend(loc="upper center")
    return figure


def compute_feature_importance(
    model: Classifier, test_set: pd.DataFrame, params: EvaluationParams
) -> pd.DataFrame:
    """How much PR AUC drops on the test period when each feature is shuffled.

    Permutation importance (scikit-learn) on a seeded sample of test rows, scored with average
    precision, the metric the model is judged by.

    Args:
        model: The fitted fraud model.
        test_set: The test split of ``model_input``.
        params: The evaluation knobs (sample size, repeats, seed).

    Returns:
        One row per feature: ``feature``, ``importance_mean``, ``importance_std``, most important
        first.
    """
    from sklearn.inspection import permutation_importance

    features = list(model.feature_names_in_)
    sample = test_set.sample(
        n=min(params.importance_rows, len(test_set)), random_state=params.random_state
    )
    result = permutation_importance(
        model,
        sample[features],
        sample[LABEL_COLUMN],
        scoring="average_precision",
        n_repeats=params.importance_repeats,
        random_state=params.random_state,
    )
    importance = pd.DataFrame(
        {
            "feature": features,
            "importance_mean": result.importances_mean,
            "importance_std": result.importances_std,
        }
    )
    return importance.sort_values("importance_mean", ascending=False, ignore_index=True)
