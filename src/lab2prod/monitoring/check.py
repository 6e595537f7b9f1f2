"""A monitoring check from end to end: the window, drift, decay, the verdict and its reasons.

Each function is a Kedro node as it stands (typed parameters, no catalog): the ``monitoring``
pipeline wires them, and ``kedro monitor check`` calls the same functions, so the two cannot
disagree. Predictions come as a :class:`~lab2prod.monitoring.log.ParquetLog` (read in batches)
or as a pandas frame (a file scored offline).

The verdict is ``decay`` when a metric decayed (labels are in), else ``drift`` when a column
drifted, else ``ok``; each drifted column and decayed metric gives one line of reason.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from lab2prod.errors import MonitoringError
from lab2prod.monitoring.drift import DriftParams
from lab2prod.monitoring.log import ParquetLog
from lab2prod.monitoring.performance import PerformanceParams
from lab2prod.monitoring.reference import ReferenceProfile

Verdict = Literal["ok", "drift", "decay"]
EXIT_CODES: dict[str, int] = {"ok": 0, "drift": 3, "decay": 4}
"""Exit code of ``kedro monitor check`` per verdict (1 is an error, 2 a usage error)."""

MODEL_COLUMN = "model"
"""The prediction log's column of the tag of the model that scored each row."""


class WindowParams(BaseModel):
    """Which predictions a check looks at (``monitoring.window`` in the project's parameters)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time_column: str = "timestamp"
    """The column whose time places a row in the window and in a period."""
    start: datetime | None = None
    """The window's first instant (inclusive); none: from the first row."""
    end: datetime | None = None
    """The window's end (exclusive); none: up to the last row."""
    last: Annotated[str | None, Field(description="e.g. 7D")] = None
    """Instead of ``start``: this long (a pandas duration, ``"7D"``) up to ``end`` or the last
    row."""
    period: str = "1D"
    """The length of a period, for drift and performance over time."""
    same_model: bool = True
    """Only rows the checked model scored (the log's ``model`` column), when the log says."""


@dataclass(frozen=True)
class Reference:
    """What a check compares with: a model's profile and its tag.

    Attributes:
        profile: The reference profile.
        tag: The model's tag (``name:version``), or ``None`` when unknown.
    """

    profile: ReferenceProfile
    tag: str | None = None


def reference_of(
    profile: Mapping[str, Any] | ReferenceProfile, tag: str | None = None
) -> Reference:
    """A :class:`Reference` from a profile (as :meth:`ReferenceProfile.to_dict` wrote it)."""
    return Reference(ReferenceProfile.from_dict(profile), tag)


def as_reference(value: Reference | Mapping[str, Any]) -> Reference:
    """A :class:`Reference`, from itself or from its data (the profile, its ``model`` tag)."""
    if isinstance(value, Reference):
        return value
    return Reference(ReferenceProfile.from_dict(value), value.get(MODEL_COLUMN))


PROFILE_DOCUMENT = "reference_profile"
"""The name of the reference profile among a model package's documents."""


def reference_of_package(package: Any) -> dict[str, Any]:
    """The reference a packaged model (``lab2prod.serving.ModelPackage``) carries, as data.

    Returns:
        The profile (:meth:`ReferenceProfile.to_dict`) with the model's tag under ``model``:
        JSON, so a catalog can keep it between the nodes of a check.

    Raises:
        MonitoringError: If the package holds no reference profile.
    """
    documents = getattr(package, "documents", {}) or {}
    if PROFILE_DOCUMENT not in documents:
        raise MonitoringError(
            f"Model {getattr(package, 'tag', '?')} holds no reference profile: it was packaged "
            "without one. Package it again with its profile (`kedro run --pipelines "
            "reference,packaging`), or retrain."
        )
    return {**documents[PROFILE_DOCUMENT], MODEL_COLUMN: getattr(package, "tag", None)}


# --- the window --------------------------------------------------------------------------------


def _bounds(predictions: ParquetLog | pd.DataFrame, params: WindowParams) -> tuple[Any, Any]:
    """The window's (start, end) as pandas timestamps, ``None`` for an open side."""
    start = pd.Timestamp(params.start) if params.start is not None else None
    end = pd.Timestamp(params.end) if params.end is not None else None
    if params.last is not None:
        if params.start is not None:
            raise MonitoringError("Give the window a start or a length ('last'), not both")
        length = pd.Timedelta(params.last)
        if length <= pd.Timedelta(0):
            raise MonitoringError(f"The window's length must be positive, got {params.last!r}")
        latest = end if end is not None else _latest(predictions, params.time_column)
        if latest is not None:
            if end is None:  # the last row is inside the window
                latest = latest + pd.Timedelta(microseconds=1)
                end = latest
            start = latest - length
    if start is not None and end is not None and start >= end:
        raise MonitoringError(f"The window starts ({start}) at or after its end ({end})")
    return start, end


def _latest(predictions: ParquetLog | pd.DataFrame, column: str) -> Any:
    if isinstance(predictions, ParquetLog):
        import pyarrow.compute as pc

        if predictions.empty:
            return None
        values = predictions.to_arrow([column])[column]
        latest = pc.max(values).as_py()
    else:
        latest = predictions[column].max() if len(predictions) else None
    return None if latest is None or pd.isna(latest) else pd.Timestamp(latest)


def _batches(
    reference: Reference,
    predictions: ParquetLog | pd.DataFrame,
    params: WindowParams,
    columns: list[str],
    bounds: tuple[Any, Any],
) -> Iterator[pd.DataFrame]:
    """The window's rows (between ``bounds``), ``columns`` only, in batches."""
    start, end = bounds
    model = reference.tag if params.same_model else None
    if isinstance(predictions, ParquetLog):
        import pyarrow.dataset as ds

        has_model = MODEL_COLUMN in predictions.columns
        where = None
        for condition in (
            ds.field(params.time_column) >= start if start is not None else None,
            ds.field(params.time_column) < end if end is not None else None,
            ds.field(MODEL_COLUMN) == model if model is not None and has_model else None,
        ):
            if condition is not None:
                where = condition if where is None else where & condition
        yield from predictions.batches(columns, where=where)
        return
    frame = predictions
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise MonitoringError(
            f"The predictions lack column(s) {missing}; they have "
            f"{sorted(map(str, frame.columns))}",
            column=missing[0],
        )
    keep = np.ones(len(frame), dtype=bool)
    times = frame[params.time_column]
    if start is not None:
        keep &= (times >= start).to_numpy()
    if end is not None:
        keep &= (times < end).to_numpy()
    if model is not None and MODEL_COLUMN in frame.columns:
        keep &= (frame[MODEL_COLUMN] == model).to_numpy()
    yield frame.loc[keep, columns]


def count_window(
    reference: Reference | Mapping[str, Any],
    predictions: ParquetLog | pd.DataFrame,
    params: WindowParams,
) -> dict[str, Any]:
    """Count the window's predictions on the reference's bins, period by period.

    Returns:
        ``PeriodCounts.to_dict()`` plus the window's ``start`` and ``end``.

    Raises:
        MonitoringError: If the predictions lack a column or the window holds no row.
    """
    reference = as_reference(reference)
    from lab2prod.monitoring.window import count_periods

    profile = reference.profile
    columns = list(dict.fromkeys([params.time_column, *profile.names]))
    start, end = _bounds(predictions, params)
    counts = count_periods(
        profile,
        _batches(reference, predictions, params, columns, (start, end)),
        time_column=params.time_column,
        period=params.period,
    )
    return {
        **counts.to_dict(),
        "start": start.isoformat() if start is not None else counts.starts[0],
        "end": end.isoformat() if end is not None else None,
    }


def check_drift(
    reference: Reference | Mapping[str, Any], window_counts: Mapping[str, Any], params: DriftParams
) -> pd.DataFrame:
    """The drift table of the whole window (see ``drift.drift_table``)."""
    reference = as_reference(reference)
    from lab2prod.monitoring.drift import drift_table
    from lab2prod.monitoring.window import PeriodCounts

    return drift_table(reference.profile, PeriodCounts.from_dict(window_counts).total, params)


def drift_over_time(
    reference: Reference | Mapping[str, Any], window_counts: Mapping[str, Any], params: DriftParams
) -> pd.DataFrame:
    """The drift table of each period of the window, each judged on its own.

    Returns:
        The columns of ``drift.DRIFT_COLUMNS`` after ``period`` (the period's start).
    """
    reference = as_reference(reference)
    from lab2prod.monitoring.drift import drift_table
    from lab2prod.monitoring.window import PeriodCounts

    counts = PeriodCounts.from_dict(window_counts)
    tables = [
        drift_table(reference.profile, window, params).assign(period=start)
        for start, window in zip(counts.starts, counts.windows, strict=True)
    ]
    table = pd.concat(tables, ignore_index=True)
    return table[["period", *(c for c in table.columns if c != "period")]]


# --- labels and decay ----------------------------------------------------------------------------


class LabelParams(BaseModel):
    """How predictions meet their labels (``monitoring.labels``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id_column: str = "transaction_id"
    """The key of a prediction and its label."""
    label_column: str = "is_fraud"
    """The labels' column: 1 (true) for a positive."""


def labelled_predictions(
    reference: Reference | Mapping[str, Any],
    predictions: ParquetLog | pd.DataFrame,
    labels: ParquetLog | pd.DataFrame,
    window_counts: Mapping[str, Any],
    window: WindowParams,
    params: LabelParams,
) -> pd.DataFrame:
    """The window's predictions that have a label, joined by id.

    The window is the one :func:`count_window` counted (its ``start`` and ``end``), not worked
    out again: the log may have grown in between.

    Returns:
        ``id``, time, ``score``, ``decision`` and ``label`` columns (named as in the data), one
        row per labelled prediction; empty without labels.

    Raises:
        MonitoringError: If the profile has no score, or labels lack their columns.
    """
    reference = as_reference(reference)
    import polars as pl

    window = window.model_copy(
        update={
            "last": None,
            "start": pd.Timestamp(window_counts["start"]).to_pydatetime(),
            "end": pd.Timestamp(window_counts["end"]).to_pydatetime()
            if window_counts.get("end")
            else None,
        }
    )
    profile = reference.profile
    if profile.score is None:
        raise MonitoringError("The reference profile has no score column: decay needs one")
    columns = [params.id_column, window.time_column, profile.score]
    if profile.decision is not None:
        columns.append(profile.decision)
    label_columns = [params.id_column, params.label_column]
    out_columns = [*columns, "label"]
    if isinstance(labels, ParquetLog):
        if labels.empty:
            return pd.DataFrame({name: [] for name in out_columns})
        labels_table = pl.from_arrow(labels.to_arrow(label_columns))
    else:
        missing = [name for name in label_columns if name not in labels.columns]
        if missing:
            raise MonitoringError(
                f"The labels lack column(s) {missing}; they have {sorted(map(str, labels.columns))}"
            )
        labels_table = pl.from_pandas(labels[label_columns])
    labels_table = labels_table.rename({params.label_column: "label"}).unique(
        params.id_column, keep="last"
    )
    parts = [
        pl.from_pandas(batch).join(labels_table, on=params.id_column, how="inner")
        for batch in _batches(reference, predictions, window, columns, _bounds(predictions, window))
    ]
    if not parts:
        return pd.DataFrame({name: [] for name in out_columns})
    joined = pl.concat(parts).with_columns(pl.col("label").cast(pl.Int8))
    return joined.select(out_columns).to_pandas()


def _metrics_of(reference: Reference, labelled: pd.DataFrame) -> dict[str, float]:
    from lab2prod.monitoring.performance import performance_metrics

    profile = reference.profile
    if profile.threshold is None:
        raise MonitoringError("The reference profile has no decision threshold: decay needs one")
    return performance_metrics(
        labelled["label"].to_numpy(),
        labelled[profile.score].to_numpy(),
        profile.threshold,
        decisions=labelled[profile.decision].to_numpy() if profile.decision else None,
    )


def check_performance(
    reference: Reference | Mapping[str, Any], labelled: pd.DataFrame, params: PerformanceParams
) -> pd.DataFrame:
    """The performance table of the labelled window (see ``performance.performance_table``);
    empty when there is no label yet.

    The design effect is how much the labels come in bursts in the training period (a fraud
    event is several transactions), or, without labels there, how much the model's decisions do
    on the evaluation period; the positive rate's baseline is the training period's.
    """
    reference = as_reference(reference)
    from lab2prod.monitoring.drift import variation
    from lab2prod.monitoring.performance import PERFORMANCE_COLUMNS, performance_table

    if labelled.empty:
        return pd.DataFrame({name: [] for name in PERFORMANCE_COLUMNS})
    profile = reference.profile
    if profile.labels is not None:
        effect = variation(profile.labels).clustering
    elif profile.decision is not None:
        effect = variation(profile.column(profile.decision)).clustering
    else:
        effect = 1.0
    return performance_table(
        _metrics_of(reference, labelled),
        profile.performance,
        params,
        design_effect=effect,
        label_rate=profile.label_rate,
    )


def performance_over_time(
    reference: Reference | Mapping[str, Any], labelled: pd.DataFrame, window: WindowParams
) -> pd.DataFrame:
    """The model's metrics per period of the window, from the labelled predictions.

    Returns:
        One row per period with labels: ``period`` and the metrics of
        ``performance.performance_metrics``.
    """
    reference = as_reference(reference)
    from lab2prod.monitoring.performance import public_metrics

    if labelled.empty:
        return pd.DataFrame({"period": []})
    periods = pd.to_datetime(labelled[window.time_column]).dt.floor(window.period)
    rows = [
        {"period": start.isoformat(), **public_metrics(_metrics_of(reference, group))}
        for start, group in labelled.groupby(periods, sort=True)
    ]
    return pd.DataFrame(rows)


# --- the verdict ---------------------------------------------------------------------------------


def summarise(
    reference: Reference | Mapping[str, Any],
    window_counts: Mapping[str, Any],
    drift: pd.DataFrame,
    performance: pd.DataFrame,
) -> dict[str, Any]:
    """The check's verdict, its one-line reasons, and what was checked.

    Returns:
        JSON-ready: ``verdict`` (``ok``/``drift``/``decay``), ``exit_code``, ``reasons``,
        ``drifted`` (columns), ``decayed`` (metrics), ``model``, ``window`` (start, end, rows,
        labelled rows), and the deciding statistic of every column.
    """
    reference = as_reference(reference)
    drifted = drift[drift["drifted"]]
    flagged = performance[performance["flagged"].astype(bool)] if len(performance) else performance
    label_drift = flagged[flagged["kind"] == "label drift"] if len(flagged) else flagged
    decayed = flagged[flagged["kind"] == "decay"] if len(flagged) else flagged
    reasons = [
        f"drift: {row.column} ({row.role}) {row.statistic} {row.value:.4g} > threshold "
        f"{row.threshold:.4g} (q={row.q_value:.2g}); {row.largest_change}"
        for row in drifted.itertuples()
    ]
    reasons += [
        f"drift: labels {row.metric} {row.value:.4g} against {row.baseline:.4g} at evaluation "
        f"(tolerance {row.tolerance:g}; q={row.q_value:.2g})"
        for row in label_drift.itertuples()
    ]
    reasons += [
        f"decay: {row.metric} {row.value:.4g} against {row.baseline:.4g} at evaluation (worse "
        f"when {row.worse_when}, tolerance {row.tolerance:g}; q={row.q_value:.2g})"
        for row in decayed.itertuples()
    ]
    any_drift = len(drifted) or len(label_drift)
    verdict: Verdict = "decay" if len(decayed) else "drift" if any_drift else "ok"
    labelled_rows = int(performance["rows"].max()) if len(performance) else 0
    return {
        "verdict": verdict,
        "exit_code": EXIT_CODES[verdict],
        "reasons": reasons,
        "drifted": drifted["column"].tolist()
        + [f"labels:{m}" for m in label_drift.get("metric", [])],
        "decayed": decayed["metric"].tolist() if len(decayed) else [],
        "model": reference.tag,
        "window": {
            "start": window_counts.get("start"),
            "end": window_counts.get("end"),
            "rows": int(drift["rows"].max()) if len(drift) else 0,
            "labelled_rows": labelled_rows,
            "periods": len(window_counts.get("starts", [])),
        },
        "columns": {
            row.column: {
                "statistic": row.statistic,
                "value": float(row.value),
                "threshold": float(row.threshold),
                "drifted": bool(row.drifted),
            }
            for row in drift.itertuples()
        },
    }
