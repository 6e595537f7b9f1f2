"""Drift statistics on shared bins, numpy and scipy only.

Every statistic compares two histograms over the same bins: the reference's counts and a
window's. Each function takes counts with the bins on the last axis and any leading axes, so the
same call scores one window or thousands of simulated ones at once (``drift.py`` calibrates its
thresholds that way).

- :func:`psi`: population stability index, ``sum((q - p) * ln(q / p))``.
- :func:`jensen_shannon`: Jensen-Shannon distance, base 2 (0 identical, 1 disjoint).
- :func:`wasserstein`: the earth mover's distance between binned distributions placed at given
  points, divided by a scale (the reference's standard deviation: "normalised Wasserstein").
- :func:`chi_square`: Pearson's chi-square statistic of the 2 x k table, and its p-value.
- :func:`benjamini_hochberg`: which of many tests to reject at a false-discovery rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EPSILON = 1e-4
"""Share given to an empty bin by :func:`psi` (a bin empty on one side would be infinite)."""


def _shares(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    totals = counts.sum(axis=-1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def psi(reference: np.ndarray, window: np.ndarray, *, epsilon: float = EPSILON) -> np.ndarray:
    """Population stability index of ``window`` against ``reference`` (counts, bins last).

    Shares below ``epsilon`` are raised to it, the usual convention, so a bin empty on one side
    adds a large but finite term.

    Returns:
        A float, or an array of the leading shape.
    """
    p = np.maximum(_shares(reference), epsilon)
    q = np.maximum(_shares(window), epsilon)
    return ((q - p) * np.log(q / p)).sum(axis=-1)


def jensen_shannon(reference: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Jensen-Shannon distance (the square root of the divergence, base 2) between two histograms.

    Returns:
        Values in [0, 1]: 0 for identical shares, 1 for histograms with no bin in common.
    """
    p, q = np.broadcast_arrays(_shares(reference), _shares(window))
    m = (p + q) / 2

    def kl(a: np.ndarray) -> np.ndarray:
        ratio = np.divide(a, m, out=np.ones_like(a), where=(a > 0) & (m > 0))
        return (a * np.log2(ratio)).sum(axis=-1)

    divergence = np.clip((kl(p) + kl(q)) / 2, 0.0, 1.0)
    return np.sqrt(divergence)


def wasserstein(
    reference: np.ndarray, window: np.ndarray, *, support: np.ndarray, scale: float
) -> np.ndarray:
    """Earth mover's distance between two histograms whose bins sit at ``support``, over ``scale``.

    With each bin's mass at one point (the reference's mean of the bin), the distance is the area
    between the two cumulative distributions: ``sum(|P_i - Q_i| * (x_{i+1} - x_i))``.

    Args:
        reference: Counts per bin, bins last.
        window: Counts per bin on the same bins.
        support: One increasing point per bin.
        scale: What to divide by; the reference's standard deviation makes the distance unitless
            (Evidently's "normalised Wasserstein"). A scale of 0 (a constant column) gives 0.

    Returns:
        A float, or an array of the leading shape.
    """
    support = np.asarray(support, dtype=np.float64)
    if scale <= 0 or support.size < 2:
        return np.zeros(np.broadcast_shapes(np.shape(reference)[:-1], np.shape(window)[:-1]))
    gap = np.cumsum(_shares(reference) - _shares(window), axis=-1)[..., :-1]
    return (np.abs(gap) * np.diff(support)).sum(axis=-1) / scale


@dataclass(frozen=True)
class ChiSquare:
    """Pearson's chi-square test of homogeneity of two histograms.

    Attributes:
        statistic: The statistic (an array when the inputs had leading axes).
        dof: Degrees of freedom: the bins used, less one.
        p_value: Its p-value under the chi-square distribution (``nan`` without a degree of
            freedom). With millions of rows any difference is significant; the drift table's
            verdict uses calibrated thresholds instead.
    """

    statistic: np.ndarray
    dof: int
    p_value: np.ndarray


def chi_square(reference: np.ndarray, window: np.ndarray) -> ChiSquare:
    """Pearson's chi-square statistic of the 2 x k table (reference, window) x bins.

    Bins empty on both sides of every row are left out of the degrees of freedom (they add
    nothing to the statistic).
    """
    from scipy.stats import chi2

    reference = np.asarray(reference, dtype=np.float64)
    window = np.asarray(window, dtype=np.float64)
    reference, window = np.broadcast_arrays(reference, window)
    column = reference + window
    n_ref = reference.sum(axis=-1, keepdims=True)
    n_win = window.sum(axis=-1, keepdims=True)
    total = n_ref + n_win
    statistic = np.zeros(column.shape[:-1])
    for counts, n in ((reference, n_ref), (window, n_win)):
        expected = np.divide(column * n, total, out=np.zeros_like(column), where=total > 0)
        statistic += np.divide(
            (counts - expected) ** 2, expected, out=np.zeros_like(column), where=expected > 0
        ).sum(axis=-1)
    used = (column > 0).reshape(-1, column.shape[-1]).any(axis=0)
    dof = int(used.sum()) - 1
    p_value = chi2.sf(statistic, dof) if dof > 0 else np.full(statistic.shape, np.nan)
    return ChiSquare(statistic, dof, np.asarray(p_value))


@dataclass(frozen=True)
class FalseDiscovery:
    """The outcome of the Benjamini-Hochberg procedure.

    Attributes:
        rejected: Per test, whether it is a discovery.
        cutoff: The p-value a test must reach to be rejected: ``alpha * k / m`` for ``k``
            discoveries among ``m`` tests (``alpha / m`` with none).
        q_values: Adjusted p-values: the smallest false-discovery rate at which each test would
            be rejected.
    """

    rejected: np.ndarray
    cutoff: float
    q_values: np.ndarray


def benjamini_hochberg(p_values: np.ndarray, alpha: float) -> FalseDiscovery:
    """Control the false-discovery rate at ``alpha`` across independent (or positively
    dependent) tests.

    Raises:
        ValueError: If ``alpha`` is not in (0, 1) or a p-value is not in [0, 1].
    """
    p = np.asarray(p_values, dtype=np.float64)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if p.size and (np.isnan(p).any() or p.min() < 0.0 or p.max() > 1.0):
        raise ValueError(f"p-values must be in [0, 1], got {p.tolist()}")
    m = p.size
    if m == 0:
        return FalseDiscovery(np.zeros(0, dtype=bool), alpha, np.zeros(0))
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    below = ranked <= alpha * np.arange(1, m + 1) / m
    count = int(np.flatnonzero(below)[-1]) + 1 if below.any() else 0
    # Every p-value at or below count * alpha / m is rejected, and only those (the next one
    # ranked is above its own, higher, line): the cutoff a p-value must reach.
    cutoff = alpha * max(count, 1) / m
    adjusted = np.minimum.accumulate((ranked * m / np.arange(1, m + 1))[::-1])[::-1]
    q_values = np.empty(m)
    q_values[order] = np.minimum(adjusted, 1.0)
    return FalseDiscovery(p <= cutoff if count else np.zeros(m, dtype=bool), cutoff, q_values)
