"""Champion against challenger, on the same recent labelled window.

The recent labelled data (``scoring_input``: transactions with their activity and labels) is cut
by time into the challenger's training days, a week to choose its threshold, and a holdout of
the last days that neither model learned from. Both models are scored on the holdout with their
own threshold and judged by one metric; the challenger is promoted only when it beats the
champion by ``margin``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sklearn.metrics import average_precision_score, roc_auc_score

from fraud_detection.domain import LABEL_COLUMN
from fraud_detection.pipelines.inference.nodes import fraud_scores
from fraud_detection.pipelines.inference_features.nodes import FeatureParams, build_features

Days = Annotated[int, Field(ge=1)]


class RecentParams(BaseModel):
    """Which recent days train and judge (``retraining.recent``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    train_days: Days = 28
    """The challenger learns from these days."""
    validation_days: Days = 7
    """Then its decision threshold is chosen on these, as the evaluation chooses the champion's."""
    holdout_days: Days = 14
    """The last days: both models are judged on them, neither learned from them."""


class RetrainingParams(BaseModel):
    """How a challenger is judged (``retraining`` in parameters_retraining.yml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    recent: RecentParams = RecentParams()
    metric: Literal["pr_auc", "roc_auc", "recall", "recall_at_1pct_fpr"] = "pr_auc"
    """What decides: higher is better."""
    margin: Annotated[float, Field(ge=0.0)] = 0.01
    """The challenger must beat the champion by at least this much to replace it."""
    min_positives: Annotated[int, Field(ge=1)] = 30
    """Fewer fraud in the holdout: nothing is promoted (the comparison would be noise)."""

    @model_validator(mode="after")
    def _holdout_is_shorter(self) -> RetrainingParams:
        if self.recent.holdout_days >= self.recent.train_days + self.recent.holdout_days:
            raise ValueError("holdout_days must leave training days")
        return self


def recent_splits(
    scoring_input: pd.DataFrame, params: RetrainingParams
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Cut the most recent labelled days into the challenger's train, validation and holdout.

    Days count back from the latest transaction: the holdout is the last ``holdout_days``, the
    validation the ``validation_days`` before, the training the ``train_days`` before those.

    Raises:
        ValueError: If there are no labels, too little history, or a split holds no fraud.
    """
    if LABEL_COLUMN not in scoring_input.columns:
        raise ValueError(
            f"The recent data has no label column {LABEL_COLUMN!r}: retraining needs labelled "
            "transactions (scoring_input with is_fraud)"
        )
    recent = params.recent
    latest = scoring_input["timestamp"].max()
    holdout_start = latest - pd.Timedelta(days=recent.holdout_days)
    validation_start = holdout_start - pd.Timedelta(days=recent.validation_days)
    train_start = validation_start - pd.Timedelta(days=recent.train_days)
    if scoring_input["timestamp"].min() > train_start:
        raise ValueError(
            f"The recent data starts on {scoring_input['timestamp'].min()}, after the "
            f"{recent.train_days + recent.validation_days + recent.holdout_days} days retraining "
            f"needs up to {latest} begin ({train_start}); use fewer days "
            "(retraining.recent in parameters_retraining.yml)"
        )
    times = scoring_input["timestamp"]
    splits = (
        scoring_input[(times >= train_start) & (times < validation_start)],
        scoring_input[(times >= validation_start) & (times < holdout_start)],
        scoring_input[times >= holdout_start],
    )
    for name, split in zip(("train", "validation", "holdout"), splits, strict=True):
        if not (split[LABEL_COLUMN] == 1).any():
            raise ValueError(
                f"The recent {name} days ({len(split):,} transactions) hold no fraud: nothing "
                "to learn or judge; use more days (retraining.recent)"
            )
    train, validation, holdout = (split.reset_index(drop=True) for split in splits)
    return train, validation, holdout


def features_of(
    train: pd.DataFrame, validation: pd.DataFrame, holdout: pd.DataFrame, params: FeatureParams
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The challenger's features of each split: the inference_features node, as in training."""
    train_set, validation_set, holdout_set = (
        build_features(split, params) for split in (train, validation, holdout)
    )
    return train_set, validation_set, holdout_set


def _scores_of(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    flagged = scores >= threshold
    positives = labels == 1
    negatives = ~positives
    order = np.argsort(-scores, kind="stable")
    false_rate = np.cumsum(negatives[order]) / max(negatives.sum(), 1)
    caught = np.cumsum(positives[order]) / max(positives.sum(), 1)
    return {
        "pr_auc": float(average_precision_score(labels, scores)),
        "roc_auc": float(roc_auc_score(labels, scores)),
        "recall": float((flagged & positives).sum() / max(positives.sum(), 1)),
        "precision": float((flagged & positives).sum() / max(flagged.sum(), 1)),
        "fpr": float((flagged & negatives).sum() / max(negatives.sum(), 1)),
        "recall_at_1pct_fpr": float(caught[false_rate <= 0.01].max(initial=0.0)),
        "threshold": float(threshold),
    }


def compare_models(
    champion: Any,
    challenger: Any,
    challenger_threshold: float,
    holdout: pd.DataFrame,
    params: RetrainingParams,
) -> dict[str, Any]:
    """Score the holdout with both models, each with its own threshold and features, and decide.

    Args:
        champion: The packaged model in service (a ``ModelPackage``: its ``model`` artifact,
            ``decision_threshold`` input and ``inference_features`` parameters).
        challenger: The model trained on the recent days.
        challenger_threshold: Its threshold, chosen on the recent validation days.
        holdout: The recent holdout days (scoring_input rows with labels).
        params: The metric and the margin.

    Returns:
        The decision: ``promote``, ``reason``, ``metric``, ``margin``, both models' metrics on
        the holdout (``champion`` with its ``tag``), and the holdout's extent.
    """
    labels = holdout[LABEL_COLUMN].to_numpy()
    champion_features = build_features(
        holdout, FeatureParams(**champion.parameters.get("inference_features", {}))
    )
    champion_scores = _scores_of(
        labels,
        fraud_scores(champion.artifacts["model"], champion_features),
        float(champion.inputs["decision_threshold"]),
    )
    challenger_features = build_features(holdout, FeatureParams())
    challenger_scores = _scores_of(
        labels, fraud_scores(challenger, challenger_features), challenger_threshold
    )
    metric = params.metric
    gain = challenger_scores[metric] - champion_scores[metric]
    positives = int(labels.sum())
    if positives < params.min_positives:
        promote = False
        reason = (
            f"kept {champion.tag}: the holdout holds {positives} fraud, fewer than "
            f"{params.min_positives}, too few to judge"
        )
    elif gain >= params.margin:
        promote = True
        reason = (
            f"promoted the challenger: {metric} {challenger_scores[metric]:.4f} against "
            f"{champion_scores[metric]:.4f} for {champion.tag} (+{gain:.4f} >= margin "
            f"{params.margin:g})"
        )
    else:
        promote = False
        reason = (
            f"kept {champion.tag}: the challenger's {metric} {challenger_scores[metric]:.4f} "
            f"against {champion_scores[metric]:.4f} ({gain:+.4f} < margin {params.margin:g})"
        )
    return {
        "promote": promote,
        "reason": reason,
        "metric": metric,
        "margin": params.margin,
        "gain": gain,
        "champion": {"tag": champion.tag, **champion_scores},
        "challenger": challenger_scores,
        "holdout": {
            "start": holdout["timestamp"].min().isoformat(),
            "end": holdout["timestamp"].max().isoformat(),
            "rows": len(holdout),
            "positives": positives,
        },
    }


def challenger_predictions(
    challenger: Any, holdout_set: pd.DataFrame, threshold: float
) -> pd.DataFrame:
    """The challenger's scores and decisions on the holdout, shaped as ``test_predictions``
    (the reference profile of a promoted model is made of them)."""
    scores = fraud_scores(challenger, holdout_set)
    return pd.DataFrame(
        {
            "transaction_id": holdout_set["transaction_id"].array,
            "timestamp": holdout_set["timestamp"].array,
            LABEL_COLUMN: holdout_set[LABEL_COLUMN].astype("int8").array,
            "fraud_probability": scores,
            "baseline_probability": scores,
            "predicted": (scores >= threshold).astype("int8"),
        }
    )


def promotion(decision: dict[str, Any], package: dict[str, Any]) -> dict[str, Any]:
    """What the ``retrained_model`` dataset saves: the challenger's package, stored only when
    promoted, with the decision and both models' scores in its metadata."""
    metadata = {**package.get("metadata", {}), "promotion": decision}
    return {"promote": decision["promote"], "package": {**package, "metadata": metadata}}


def challenger_metrics(decision: dict[str, Any], threshold: float) -> dict[str, Any]:
    """The challenger's holdout metrics in the shape packaging reads (``threshold``, ``model``)."""
    return {"model": decision["challenger"], "threshold": float(threshold)}
