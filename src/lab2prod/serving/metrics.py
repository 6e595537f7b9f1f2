"""Prometheus metrics of a scoring service, beside BentoML's own on ``/metrics``.

BentoML runs each worker with ``PROMETHEUS_MULTIPROC_DIR`` set and serves every worker's
metrics, its own and the service's, on ``/metrics``. ``prometheus_client`` must first be
imported after that variable is set (BentoML 1.4 deprecates ``bentoml.metrics`` in favour of
``prometheus_client`` used that way), so the metrics are created on first use in the worker,
never at import.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PROBABILITY_BUCKETS: tuple[float, ...] = tuple(i / 20 for i in range(1, 20))
"""Histogram buckets of the score: every 0.05 from 0.05 to 0.95 (plus +Inf)."""

REJECTION_REASONS: tuple[str, ...] = (
    "malformed_json",
    "invalid_field",
    "empty",
    "too_many",
    "duplicate_id",
    "contract_check",
    "unsupported_media_type",
    "unauthorized",
    "too_large",
    "read_timeout",
    "overloaded",
)
"""Why a request was refused (a 4xx; ``overloaded``: a 503); each is a value of the ``reason``
label."""


@dataclass(frozen=True)
class ServingMetrics:
    """The service's metrics (prometheus_client objects).

    Attributes:
        predictions: Counter ``<prefix>_predictions_total``, label ``decision``.
        rejected: Counter ``<prefix>_rejected_requests_total``, label ``reason``.
        probability: Histogram ``<prefix>_probability`` of the scores returned.
    """

    predictions: Any
    rejected: Any
    probability: Any

    def reject(self, reason: str) -> None:
        """Count one rejected request."""
        self.rejected.labels(reason=reason).inc()

    def observe(
        self,
        predictions: Iterable[Mapping[str, Any]],
        *,
        decision: str,
        probability: str,
        labels: Mapping[Any, str],
    ) -> None:
        """Count returned predictions by decision and record their scores.

        Args:
            predictions: The predictions of one response.
            decision: The field holding the decision (e.g. ``is_fraud``).
            probability: The field holding the score (e.g. ``fraud_probability``).
            labels: The ``decision`` label of each decision value (``{True: "fraud"}``).
        """
        predictions = list(predictions)
        for value, count in Counter(p[decision] for p in predictions).items():
            self.predictions.labels(decision=labels[value]).inc(count)
        _observe_many(self.probability, [p[probability] for p in predictions])


def _observe_many(histogram: Any, values: Sequence[float]) -> None:
    """``histogram.observe(v)`` for each value, in one write per bucket.

    prometheus_client has no bulk observe, and in BentoML's multiprocess mode each observation
    is two locked writes to a memory-mapped file: 2.6 ms per 1,000 predictions, measured,
    against ~0.1 ms this way. Relies on the Histogram's per-bucket (not cumulative) counters,
    as ``observe`` itself does; falls back to ``observe`` if they are not there.
    """
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None or len(values) < 8:
        for value in values:
            histogram.observe(value)
        return
    import numpy as np

    array = np.asarray(values, dtype=np.float64)
    # observe() counts a value in the first bucket whose upper bound is >= it.
    counts = np.bincount(np.searchsorted(bounds, array, side="left"), minlength=len(bounds))
    for bucket, count in zip(buckets, counts.tolist(), strict=False):
        if count:
            bucket.inc(count)
    total.inc(float(array.sum()))


@functools.cache
def serving_metrics(
    prefix: str, decisions: Sequence[str] = ("negative", "positive")
) -> ServingMetrics:
    """The metrics named ``<prefix>_...``, created once per process.

    Args:
        prefix: The metric name prefix, e.g. ``fraud_detection``.
        decisions: The values of the ``decision`` label, pre-set to zero so a dashboard sees
            every series from the start.
    """
    from prometheus_client import Counter, Histogram

    predictions = Counter(
        f"{prefix}_predictions", "Predictions returned, by decision.", ["decision"]
    )
    rejected = Counter(
        f"{prefix}_rejected_requests", "Requests answered with a 4xx, by reason.", ["reason"]
    )
    for decision in decisions:
        predictions.labels(decision=decision)
    for reason in REJECTION_REASONS:
        rejected.labels(reason=reason)
    probability = Histogram(
        f"{prefix}_probability", "Scores returned.", buckets=PROBABILITY_BUCKETS
    )
    return ServingMetrics(predictions, rejected, probability)


@functools.cache
def native_threads() -> Any:
    """Gauge ``lab2prod_native_threads``, label ``pool`` (``openmp``, ``blas``): the size of each
    native thread pool a scoring thread reads back, the largest across workers."""
    from prometheus_client import Gauge

    return Gauge(
        "lab2prod_native_threads",
        "Threads of each native pool (OpenMP, BLAS) a scoring thread uses; max over workers.",
        ["pool"],
        multiprocess_mode="max",
    )
