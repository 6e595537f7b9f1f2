"""Time-ordered splits of ``model_input``, a gradient-boosted fraud model and a linear baseline.

The split is by time, not at random: the model is trained on the past and judged on the future,
as it will be used. Both models record their feature names (they are fitted on DataFrames), so
serving can check that a request carries the columns the model was trained on.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from fraud_detection.domain import LABEL_COLUMN

KEY_COLUMNS: tuple[str, ...] = ("transaction_id", "timestamp", LABEL_COLUMN)
"""Columns of ``model_input`` that are not features: every other column is one."""

SPLIT_NAMES: tuple[str, ...] = ("train", "validation", "test")

OpenFraction = Annotated[float, Field(gt=0.0, lt=1.0)]


class SplitParams(BaseModel):
    """Shares of the time span of ``model_input`` given to each split (``training.split``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    train_fraction: OpenFraction = 0.7
    """The earliest part of the time span."""
    validation_fraction: OpenFraction = 0.15
    """The part after it; the evaluation picks the decision threshold here."""
    test_fraction: OpenFraction = 0.15
    """The latest part, held out for the final metrics."""

    @model_validator(mode="after")
    def _fractions_cover_the_span(self) -> SplitParams:
        total = self.train_fraction + self.validation_fraction + self.test_fraction
        if not np.isclose(total, 1.0, rtol=0.0, atol=1e-9):
            raise ValueError(
                f"train_fraction + validation_fraction + test_fraction must be 1, got {total:g}: "
                "each split is a share of the time span"
            )
        return self


class ModelParams(BaseModel):
    """Hyper-parameters of the gradient-boosted model (``training.model``).

    They map one to one onto ``sklearn.ensemble.HistGradientBoostingClassifier``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    learning_rate: float = Field(default=0.05, gt=0.0, le=1.0)
    max_iter: int = Field(default=500, ge=1)
    """Upper bound on boosting rounds; early stopping usually ends sooner."""
    max_leaf_nodes: int = Field(default=31, ge=2)
    max_depth: int | None = Field(default=None, ge=1)
    min_samples_leaf: int = Field(default=100, ge=1)
    l2_regularization: float = Field(default=0.0, ge=0.0)
    max_bins: int = Field(default=255, ge=2, le=255)
    early_stopping: bool = True
    validation_fraction: OpenFraction = 0.1
    """Share of the training rows held out (stratified, at random) to decide when to stop."""
    n_iter_no_change: int = Field(default=50, ge=1)
    class_weight: Literal["balanced"] | None = None
    """``None`` keeps the scores calibrated probabilities; ``balanced`` weighs each fraud by its
    rarity, which may rank rare fraud better but makes the scores overstate the fraud rate."""
    random_state: int = 42


class BaselineParams(BaseModel):
    """Hyper-parameters of the logistic-regression baseline (``training.baseline``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    C: float = Field(default=1.0, gt=0.0)
    """Inverse strength of the L2 penalty."""
    max_iter: int = Field(default=1000, ge=1)
    class_weight: Literal["balanced"] | None = None


def feature_columns(model_input: pd.DataFrame) -> list[str]:
    """Name the feature columns of a ``model_input``-shaped table.

    Args:
        model_input: A table with the key columns and float feature columns.

    Returns:
        Every column that is not ``transaction_id``, ``timestamp`` or ``is_fraud``, in order.

    Raises:
        ValueError: If a key column is missing, there is no feature, or a feature is not numeric.
    """
    missing = [column for column in KEY_COLUMNS if column not in model_input.columns]
    if missing:
        raise ValueError(
            f"model_input lacks the column(s) {missing}; it needs {list(KEY_COLUMNS)} plus the "
            "numeric features (see docs/data.md)"
        )
    features = [column for column in model_input.columns if column not in KEY_COLUMNS]
    if not features:
        raise ValueError("model_input holds no feature column besides the keys and the label")
    not_numeric = [
        column for column in features if not pd.api.types.is_numeric_dtype(model_input[column])
    ]
    if not_numeric:
        raise ValueError(
            f"Feature column(s) {not_numeric} are not numeric; the features of model_input "
            "must be float64 (encode categories in the inference_features pipeline)"
        )
    return features


def split_by_time(
    model_input: pd.DataFrame, params: SplitParams
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Cut ``model_input`` into train, validation and test periods, earliest first.

    The cut points divide the span from the first to the last timestamp by the fractions: a row
    belongs to the period its timestamp falls in, so rows at the same instant never straddle two
    splits. Rows keep their input order; nothing is shuffled.

    Args:
        model_input: Keys, label and features (see docs/data.md).
        params: The share of the time span of each split.

    Returns:
        The train, validation and test sets, each with the columns of ``model_input`` and a
        fresh index.

    Raises:
        ValueError: If ``model_input`` is malformed, or a split holds no fraud (then neither can
            be trained or measured on it).
    """
    feature_columns(model_input)
    if model_input.empty:
        raise ValueError("model_input is empty: there is nothing to split")
    timestamps = model_input["timestamp"]
    if timestamps.isna().any():
        raise ValueError(
            f"model_input has {int(timestamps.isna().sum()):,} row(s) without a timestamp; "
            "they belong to no period (transactions_clean should have dropped them)"
        )
    start, end = timestamps.min(), timestamps.max()
    span = end - start
    train_end = start + span * params.train_fraction
    validation_end = start + span * (params.train_fraction + params.validation_fraction)
    if timestamps.is_monotonic_increasing:
        # Rows in time order (as the pipelines make them): each period is a run of rows, and a
        # slice of the table shares its memory (copy on write) where a boolean mask copies it
        # (at 2,000,000 rows, ~600 MiB off the node's peak), and the splits are the same.
        cuts = timestamps.searchsorted([train_end, validation_end], side="left")
        bounds = zip((0, *cuts), (*cuts, len(model_input)), strict=True)
        splits = tuple(model_input.iloc[a:b].reset_index(drop=True) for a, b in bounds)
    else:
        masks = (
            timestamps < train_end,
            (timestamps >= train_end) & (timestamps < validation_end),
            timestamps >= validation_end,
        )
        splits = tuple(model_input.loc[mask].reset_index(drop=True) for mask in masks)

    empty_of_fraud = [
        f"{name} ({len(split):,} rows)"
        for name, split in zip(SPLIT_NAMES, splits, strict=True)
        if not (split[LABEL_COLUMN] == 1).any()
    ]
    if empty_of_fraud:
        raise ValueError(
            f"The {', '.join(empty_of_fraud)} split(s) of model_input ({start} to {end}) hold "
            "no fraud (is_fraud == 1), so a model cannot be trained or measured on them. "
            "Use more data (a longer period or more transactions) or give the split(s) a larger "
            "share of the time span (training.split.*_fraction in parameters_training.yml)."
        )
    train_set, validation_set, test_set = splits
    return train_set, validation_set, test_set


def train_model(train_set: pd.DataFrame, params: ModelParams) -> HistGradientBoostingClassifier:
    """Fit the gradient-boosted fraud model on the training period.

    Args:
        train_set: The training split of ``model_input``.
        params: Its hyper-parameters.

    Returns:
        The fitted classifier; ``feature_names_in_`` holds the feature columns in order.
    """
    features = _feature_frame(train_set, feature_columns(train_set))
    model = HistGradientBoostingClassifier(**params.model_dump())
    return model.fit(features, train_set[LABEL_COLUMN])


def train_baseline(train_set: pd.DataFrame, params: BaselineParams) -> Pipeline:
    """Fit the baseline: a logistic regression on standardised features.

    Args:
        train_set: The training split of ``model_input``.
        params: Its hyper-parameters.

    Returns:
        The fitted ``StandardScaler`` + ``LogisticRegression`` pipeline, with
        ``feature_names_in_`` set.
    """
    features = _feature_frame(train_set, feature_columns(train_set))
    scaler = StandardScaler().fit(features)
    # The fitted pipeline, step by step, as `Pipeline.fit` makes it, with one copy of the
    # features where it makes two: `StandardScaler.transform` copies them (column-major, as the
    # table holds them), then `LogisticRegression` copies that into the row-major array it
    # fits on. Here the row-major copy is made at once and scaled in place, by the very
    # operations of `transform`: the same numbers, the same fitted steps (pickles unchanged).
    scaled = np.ascontiguousarray(features, dtype=np.float64)
    scaled -= scaler.mean_
    scaled /= scaler.scale_
    classifier = LogisticRegression(**params.model_dump()).fit(scaled, train_set[LABEL_COLUMN])
    del scaled
    return Pipeline([("scale", scaler), ("classify", classifier)])


def _feature_frame(table: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """The ``features`` columns of ``table``, sharing its memory when they are one run of
    columns in order (as in ``model_input``, whose features follow the keys).

    ``table[features]`` copies every feature (a take), on top of the float64 array that
    scikit-learn then reads from it; a slice of consecutive columns is a view of the table's
    float block, which scikit-learn reads without a copy, in the same column-major order. At
    7,000,000 training rows of 41 features a copy is 2.1 GiB.
    """
    positions = table.columns.get_indexer(features)
    first = int(positions[0])
    if np.array_equal(positions, np.arange(first, first + len(features))):
        return table.iloc[:, first : first + len(features)]
    return table[features]
