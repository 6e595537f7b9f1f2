"""Making a model's reference profile at training time: a Kedro node as it stands.

The inputs are profiled on the rows the model was trained on; the score and the decision on an
evaluation period the model never saw (scores on its own training rows are better than it will
ever do again, measured: PSI 0.03-0.06 between in-sample and out-of-sample scores on the
example), with the model's metrics there as the baseline of decay.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from lab2prod.errors import MonitoringError
from lab2prod.monitoring.reference import ReferenceProfile, profile_columns


class ReferenceParams(BaseModel):
    """What to profile and how (``monitoring_reference`` in the project's parameters)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    numeric: list[str] = []
    """Input columns binned at quantiles."""
    categorical: list[str] = []
    """Input columns counted per category (booleans too)."""
    score_column: str | None = None
    """The model's score, as the prediction log names it."""
    decision_column: str | None = None
    """The model's decision, as the prediction log names it."""
    label_column: str | None = None
    """The label's column (0/1), in the scored rows and the inputs: with it the profile holds
    the model's metrics on the scored rows (the baseline of decay) and the labels of the
    training period (the baseline of label drift)."""
    time_column: str = "timestamp"
    n_bins: Annotated[int, Field(ge=2, le=200)] = 20
    """Quantile bins per numeric column."""
    max_categories: Annotated[int, Field(ge=1)] = 50
    chunk_period: str | None = "1D"
    """Chunks of the reference by period (a pandas frequency); none: ``chunks`` equal slices."""
    chunks: Annotated[int, Field(ge=2)] = 10
    skip_first: str | None = None
    """Leave the first span of the reference out (a pandas duration, ``"7D"``): rows whose
    history-based columns are not complete yet would make "normal" look unlike any later day."""


def build_reference(
    inputs: pd.DataFrame,
    scored: pd.DataFrame | None,
    threshold: float | None,
    params: ReferenceParams,
) -> dict[str, Any]:
    """Profile a model's reference.

    Args:
        inputs: The rows the model was trained on, with the input columns and the time column.
        scored: Evaluation rows with the time, the score, the decision and the label columns
            (none: the profile has inputs only).
        threshold: The decision threshold.
        params: What to profile.

    Returns:
        The profile as JSON-ready data (:meth:`ReferenceProfile.to_dict`).

    Raises:
        MonitoringError: If a column is missing, or a period holds too few rows.
    """
    from lab2prod.monitoring.performance import performance_metrics, public_metrics

    if not params.numeric and not params.categorical:
        raise MonitoringError("Nothing to profile: list numeric and/or categorical columns")
    inputs = _ordered(inputs, params, "inputs")
    common = {
        "n_bins": params.n_bins,
        "chunks": params.chunks,
        "time_column": params.time_column,
        "chunk_period": params.chunk_period,
        "max_categories": params.max_categories,
    }
    columns = profile_columns(
        inputs, numeric=params.numeric, categorical=params.categorical, **common
    )
    periods = {"input": _period(inputs, params)}
    labels = None
    if params.label_column is not None and params.label_column in inputs.columns:
        label_values = inputs[[params.time_column]].assign(
            label=inputs[params.label_column].astype("int64").astype("str")
        )
        (labels,) = profile_columns(label_values, categorical=["label"], role="label", **common)
    performance: dict[str, float] = {}
    if scored is not None and params.score_column is not None:
        scored = _ordered(scored, params, "scored rows", skip=False)
        extra = {}
        if threshold is not None:
            # An edge just below the threshold: the bins split exactly where decisions do.
            extra[params.score_column] = [float(np.nextafter(threshold, -np.inf))]
        columns += profile_columns(
            scored, numeric=[params.score_column], role="score", extra_edges=extra, **common
        )
        if params.decision_column is not None:
            columns += profile_columns(
                scored, categorical=[params.decision_column], role="decision", **common
            )
        periods["score"] = _period(scored, params)
        if params.label_column is not None and threshold is not None:
            decisions = scored[params.decision_column] if params.decision_column else None
            performance = public_metrics(
                performance_metrics(
                    scored[params.label_column],
                    scored[params.score_column],
                    threshold,
                    decisions=decisions,
                )
            )
    profile = ReferenceProfile(
        columns=tuple(columns),
        score=params.score_column if scored is not None else None,
        decision=params.decision_column if scored is not None else None,
        threshold=float(threshold) if threshold is not None else None,
        periods=periods,
        performance=performance,
        labels=labels,
    )
    return profile.to_dict()


def _ordered(
    frame: pd.DataFrame, params: ReferenceParams, what: str, *, skip: bool = True
) -> pd.DataFrame:
    if params.time_column not in frame.columns:
        raise MonitoringError(
            f"The {what} lack the time column {params.time_column!r}",
            column=params.time_column,
        )
    frame = frame.sort_values(params.time_column, kind="stable", ignore_index=True)
    if skip and params.skip_first is not None and len(frame):
        start = frame[params.time_column].iloc[0] + pd.Timedelta(params.skip_first)
        frame = frame[frame[params.time_column] >= start].reset_index(drop=True)
    if frame.empty:
        raise MonitoringError(f"No {what} to profile (after skipping {params.skip_first})")
    return frame


def _period(frame: pd.DataFrame, params: ReferenceParams) -> dict[str, Any]:
    times = frame[params.time_column]
    return {
        "start": times.iloc[0].isoformat(),
        "end": times.iloc[-1].isoformat(),
        "rows": len(frame),
    }
