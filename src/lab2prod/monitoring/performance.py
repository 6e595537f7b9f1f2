"""Decay: how well the model does on a labelled window, against how it did at evaluation.

Labels arrive after the predictions (a fraud is disputed days later); once a window's
predictions are joined with their labels, each metric is compared with its value on the
evaluation period, computed by the same function (:func:`performance_metrics`), so that the two
cannot disagree by definition:

- ``pr_auc`` (average precision), ``recall`` and ``precision`` at the decision threshold: lower
  is worse;
- ``fpr``, the share of legitimate rows flagged: higher is worse;
- ``calibration``, observed positives over the sum of the scores (1 when the scores are
  probabilities): either way is worse;
- ``positive_rate``, the share of positives, is the world rather than the model: a change of it
  is *label drift*, reported with the drift. PR AUC and precision rise and fall with it, recall
  and FPR do not.

A metric is flagged when it is worse than at evaluation by more than its tolerance, and
significantly so: a one-sided two-sample test, the evaluation's own noise included (its period
is short too), on the normal approximation of each metric (for PR AUC the delta method on the
logit interval of Boyd et al. 2013). Labels come in bursts (a fraud event is several
transactions, all caught or all missed), so the variances are multiplied by a design effect,
the clustering the reference measured on the model's decisions. The false-discovery rate is held
at ``alpha`` across the metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from lab2prod.errors import MonitoringError
from lab2prod.monitoring import stats

if TYPE_CHECKING:
    import pandas as pd

Metric = Literal["pr_auc", "recall", "precision", "fpr", "calibration", "positive_rate"]

PERFORMANCE_COLUMNS: tuple[str, ...] = (
    "metric",
    "kind",
    "value",
    "baseline",
    "tolerance",
    "worse_when",
    "rows",
    "p_value",
    "q_value",
    "flagged",
)
"""Columns of the performance table, in order."""
_DERIVED = ("q_value", "flagged")

_WORSE_WHEN: dict[str, str] = {
    "pr_auc": "lower",
    "recall": "lower",
    "precision": "lower",
    "fpr": "higher",
    "calibration": "either",
    "positive_rate": "either",
}


class PerformanceParams(BaseModel):
    """How decay is decided (``monitoring.performance`` in the project's parameters)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tolerance: dict[Metric, Annotated[float, Field(ge=0.0)]] = {
        "pr_auc": 0.05,
        "recall": 0.05,
        "precision": 0.1,
        "fpr": 0.005,
        "calibration": 0.25,
        "positive_rate": 0.25,
    }
    """How much worse than at evaluation a metric may be before it is flagged: absolute for
    the rates and PR AUC, relative for calibration and the positive rate (0.25: a ratio beyond
    1.25 or below 1 / 1.25 of the evaluation's). A metric left out is not judged."""
    alpha: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.01
    """False-discovery rate across the metrics of one check."""
    min_positives: Annotated[int, Field(ge=1)] = 20
    """Fewer labelled positives than this: the metrics are reported, not judged."""


def performance_metrics(
    labels: Any, scores: Any, threshold: float, *, decisions: Any = None
) -> dict[str, float]:
    """The model's metrics on labelled rows.

    Args:
        labels: 1 (or ``True``) for a positive, per row.
        scores: The model's scores (probabilities), per row.
        threshold: The decision threshold: a row is flagged when its score is at least it.
        decisions: The decisions actually taken (default: ``scores >= threshold``).

    Returns:
        ``rows``, ``positives``, ``flagged``, ``true_positives``, ``expected_positives`` (the
        sum of the scores) and ``variance_expected`` (of the positives, were the scores exact
        probabilities), ``positive_rate``, ``pr_auc``, ``recall``, ``precision``, ``fpr``,
        ``calibration``; a metric undefined on these rows (nothing flagged) is ``nan``.
    """
    from sklearn.metrics import average_precision_score

    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    flagged = s >= threshold if decisions is None else np.asarray(decisions).astype(bool)
    rows, positives = int(y.size), int(y.sum())
    true_positives = int((flagged & y).sum())
    false_positives = int((flagged & ~y).sum())
    expected = float(s.sum())

    def ratio(a: float, b: float) -> float:
        return a / b if b > 0 else float("nan")

    both_classes = 0 < positives < rows
    return {
        "rows": rows,
        "positives": positives,
        "flagged": int(flagged.sum()),
        "true_positives": true_positives,
        "expected_positives": expected,
        "positive_rate": ratio(positives, rows),
        "pr_auc": float(average_precision_score(y, s)) if both_classes else float("nan"),
        "recall": ratio(true_positives, positives),
        "precision": ratio(true_positives, true_positives + false_positives),
        "fpr": ratio(false_positives, rows - positives),
        "calibration": ratio(positives, expected),
        "variance_expected": float((s * (1 - s)).sum()),
    }


def _se2(metric: str, values: Mapping[str, float]) -> float:
    """The sampling variance of ``metric`` on rows with these counts (independent rows)."""
    value = values[metric]
    if metric in ("recall", "pr_auc"):
        n = values["positives"]
    elif metric == "precision":
        n = values["flagged"]
    elif metric == "fpr":
        n = values["rows"] - values["positives"]
    elif metric == "positive_rate":
        n = values["rows"]
    else:  # calibration: on the log scale, Var(log(O / E)) ~ Var(O) / E^2
        expected = values["expected_positives"]
        variance = values.get("variance_expected", expected)
        return variance / expected**2 if expected > 0 else np.inf
    if n <= 0:
        return np.inf
    # Away from 0 and 1: a rate of 0 or 1 on few rows is not known to be exact.
    value = min(max(value, 0.5 / n), 1 - 0.5 / n)
    return value * (1 - value) / n


def _p_value(
    metric: str,
    window: Mapping[str, float],
    baseline: Mapping[str, float],
    tolerance: float,
    design_effect: float,
) -> float:
    """One-sided p-value of "no worse than at evaluation by more than the tolerance"."""
    from scipy.stats import norm

    value, before = window.get(metric, np.nan), baseline.get(metric, np.nan)
    if not (np.isfinite(value) and np.isfinite(before)):
        return 1.0
    error = np.sqrt(design_effect * (_se2(metric, window) + _se2(metric, baseline)))
    if not np.isfinite(error) or error <= 0:
        return 1.0
    worse_when = _WORSE_WHEN[metric]
    if worse_when == "lower":
        gap = before - value - tolerance
    elif worse_when == "higher":
        gap = value - before - tolerance
    elif metric == "calibration":
        if value <= 0 or before <= 0:
            return 1.0
        gap = abs(np.log(value / before)) - np.log1p(tolerance)
    else:  # positive_rate, relative either way
        if value <= 0 or before <= 0:
            return 1.0
        error = np.sqrt(
            design_effect * (_se2(metric, window) / value**2 + _se2(metric, baseline) / before**2)
        )
        gap = abs(np.log(value / before)) - np.log1p(tolerance)
    return float(norm.sf(gap / error))


def performance_table(
    window: Mapping[str, float],
    baseline: Mapping[str, float],
    params: PerformanceParams | None = None,
    *,
    design_effect: float = 1.0,
    label_rate: tuple[int, int] | None = None,
) -> pd.DataFrame:
    """Judge a labelled window's metrics against the evaluation's.

    Args:
        window: :func:`performance_metrics` of the window.
        baseline: :func:`performance_metrics` of the evaluation period (the reference profile's
            ``performance``).
        params: Tolerances and the false-discovery rate.
        design_effect: How much bursts of labels multiply the variances (1: independent rows).
        label_rate: ``(positives, rows)`` of the training period: the baseline of the positive
            rate when given (it is longer than the evaluation period, so less noisy).

    Returns:
        One row per metric with a tolerance, with the columns of ``PERFORMANCE_COLUMNS``:
        ``kind`` is ``label drift`` for ``positive_rate`` and ``decay`` for the model's metrics.

    Raises:
        MonitoringError: If the baseline lacks a judged metric.
    """
    import pandas as pd

    params = params or PerformanceParams()
    missing = [metric for metric in params.tolerance if metric not in baseline]
    if missing:
        raise MonitoringError(
            f"The reference profile's performance lacks {missing}: it was made without them; "
            "profile the reference again with this lab2prod"
        )
    judged = window["positives"] >= params.min_positives
    effect = max(float(design_effect), 1.0)
    if label_rate is not None and label_rate[1] > 0:
        positives, rows = label_rate
        baseline = {**baseline, "positive_rate": positives / rows, "rows": rows}
        baseline["positives"] = positives
    rows = [
        {
            "metric": metric,
            "kind": "label drift" if metric == "positive_rate" else "decay",
            "value": window[metric],
            "baseline": baseline[metric],
            "tolerance": tolerance,
            "worse_when": _WORSE_WHEN[metric],
            "rows": window["rows"],
            "p_value": _p_value(metric, window, baseline, tolerance, effect) if judged else 1.0,
        }
        for metric, tolerance in params.tolerance.items()
    ]
    table = pd.DataFrame(rows, columns=[c for c in PERFORMANCE_COLUMNS if c not in _DERIVED])
    discovery = stats.benjamini_hochberg(table["p_value"].to_numpy(), params.alpha)
    table["q_value"] = discovery.q_values
    table["flagged"] = discovery.rejected
    return table[list(PERFORMANCE_COLUMNS)]


def public_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    """The metrics as plain floats and ints (for JSON)."""
    return {
        name: int(value) if isinstance(value, int | np.integer) else float(value)
        for name, value in metrics.items()
    }
