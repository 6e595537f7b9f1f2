"""The drift table: per column, how far a window is from the reference, and whether that is drift.

Every statistic of ``stats.py`` is computed on the reference's bins. One of them (PSI by default)
decides, against a threshold calibrated per column on the reference's own variability:

1. **What "no drift" looks like for this window.** The reference's chunks show how much a
   column moves over time when nothing is wrong. Each chunk's deviation from the rest of the
   reference holds two parts: sampling noise (known: it shrinks with the chunk's rows) and real
   variation over time (what is left; estimated per bin and never negative). A simulated window
   of the real window's size takes one chunk's variation over time, shrunk to remove that chunk's
   own sampling noise, and draws its rows around it; the reference is redrawn too. The statistic
   of thousands of such windows is the null distribution, for exactly this window size: a window
   of 10 million rows does not flag everything (its sampling noise is tiny, but the variation over
   time stays), and a window of 500 rows is not flagged for its noise.
2. **A p-value per column**, the share of simulated windows at least as far from the reference.
3. **The false-discovery rate across columns** (Benjamini-Hochberg at ``alpha``): checking 25
   columns at 5% each would raise a false alarm on most quiet days.
4. **A floor on the effect** (``min_effect``): a shift that is real but too small to matter is
   not reported as drift.

A column is drifted when its statistic exceeds its threshold: the value above which step 3
rejects, raised to the floor. The table reports the threshold, so each verdict can be checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from lab2prod.errors import MonitoringError
from lab2prod.monitoring import stats
from lab2prod.monitoring.reference import Role

if TYPE_CHECKING:
    import pandas as pd

    from lab2prod.monitoring.reference import ColumnProfile, ReferenceProfile
    from lab2prod.monitoring.window import WindowCounts

Statistic = Literal["psi", "jensen_shannon", "chi_square"]

DRIFT_COLUMNS: tuple[str, ...] = (
    "column",
    "role",
    "kind",
    "rows",
    "missing_share",
    "psi",
    "jensen_shannon",
    "wasserstein",
    "chi_square",
    "chi_square_p_value",
    "statistic",
    "value",
    "threshold",
    "p_value",
    "q_value",
    "drifted",
    "largest_change",
)
"""Columns of the drift table, in order."""


class DriftParams(BaseModel):
    """How drift is decided (``monitoring.drift`` in the project's parameters)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    statistic: Statistic = "psi"
    """The statistic that decides; the others (and the normalised Wasserstein distance of
    numeric columns) are reported beside it."""
    alpha: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.01
    """False-discovery rate across the columns of one check. With no drift at all it is also
    the chance that a check raises any alarm: 1% is a false alarm about every hundred days of
    daily checks."""
    min_effect: dict[Role, Annotated[float, Field(ge=0.0)]] = {
        "input": 0.01,
        "score": 0.0,
        "decision": 0.0,
    }
    """Per role, the smallest value of the statistic reported as drift, however significant:
    with millions of rows, shifts too small to matter are significant too. The model's own
    outputs have no floor: any real change of what it scores or decides changes its alerts."""
    draws: Annotated[int, Field(ge=100, le=100_000)] = 500
    """Simulated windows per column for the null distribution (their mean and variance fit it)."""
    seed: int = 0
    """Seed of the simulation: the same data and parameters give the same table."""


def _statistics(
    column: ColumnProfile, reference: np.ndarray, window: np.ndarray, only: str | None = None
) -> dict[str, np.ndarray]:
    """The statistics of ``window`` against ``reference`` (counts, bins last): all, or ``only``."""
    compute = {
        "psi": lambda: stats.psi(reference, window),
        "jensen_shannon": lambda: stats.jensen_shannon(reference, window),
        "chi_square": lambda: stats.chi_square(reference, window).statistic,
    }
    if column.kind == "numeric":
        compute["wasserstein"] = lambda: stats.wasserstein(
            reference[..., :-1], window[..., :-1], support=column.support, scale=column.std
        )
    return {name: f() for name, f in compute.items() if only is None or name == only}


MIN_STRETCHES = 8
"""The fewest stretches a stretch length is measured on."""


@dataclass(frozen=True)
class Variation:
    """How the share of a column's bins varies between stretches of ``m`` reference rows.

    ``Var(share of bin b) = p_b (1 - p_b) (clustering / m + over_time)``: with independent rows,
    ``clustering`` is 1 and ``over_time`` 0. Rows that come in bursts (a fraud event is several
    transactions) raise ``clustering``: their noise still averages out, but more slowly.
    Variation over time (the mix of a season, a trend) is ``over_time``: it does not average out
    however long the window.

    Attributes:
        clustering: The variance multiplier of noise that averages out.
        over_time: The variance, per unit of ``p (1 - p)``, that does not.
        scales: ``(rows, dispersion, dof)`` measured per stretch length, for the record.
    """

    clustering: float
    over_time: float
    scales: tuple[tuple[float, float, int], ...]

    def effective_rows(self, rows: float) -> float:
        """The independent rows a window of ``rows`` rows is worth."""
        return rows / (self.clustering + self.over_time * rows)


def variation(column: ColumnProfile) -> Variation:
    """Measure :class:`Variation` on the reference's chunks.

    At each stretch length (1, 2, 4, ... consecutive chunks, while ``MIN_STRETCHES`` fit),
    the chi-square statistic of the stretches x bins table over its degrees of freedom is the
    dispersion ``clustering + over_time * m`` at the stretches' mean length ``m``: a straight
    line in ``m``, fitted by least squares weighted by the degrees of freedom.
    ``over_time`` is kept only when its slope is significant (two standard errors), so that
    noise is never extrapolated to a long window.
    """
    chunks = column.chunk_counts.astype(np.float64)
    chunks = chunks[:, chunks.sum(axis=0) > 0]
    scales = []
    length = 1
    while len(chunks) // length >= MIN_STRETCHES or length == 1:
        n_stretches = len(chunks) // length
        stretches = chunks[: n_stretches * length].reshape(n_stretches, length, -1).sum(axis=1)
        sizes = stretches.sum(axis=1)
        shares = stretches.sum(axis=0) / sizes.sum()
        expected = sizes[:, None] * shares[None, :]
        dof = (n_stretches - 1) * (stretches.shape[1] - 1)
        if dof > 0:
            squares = np.divide(
                (stretches - expected) ** 2,
                expected,
                out=np.zeros_like(expected),
                where=expected > 0,
            )
            rows = float((sizes**2).sum() / sizes.sum())
            scales.append((rows, float(squares.sum()) / dof, dof))
        length *= 2
    if not scales:
        return Variation(1.0, 0.0, ())
    m = np.array([scale[0] for scale in scales])
    dispersion = np.array([scale[1] for scale in scales])
    # Var(dispersion) = 2 dispersion^2 / dof: with the pooled dispersion in place of each
    # scale's own (a noisy low one would otherwise weigh most), the weights are the dof.
    weight = np.array([scale[2] for scale in scales], dtype=np.float64)
    flat = float((weight * dispersion).sum() / weight.sum())
    if len(scales) < 2:
        return Variation(max(flat, 1e-9), 0.0, tuple(scales))
    design = np.column_stack([np.ones_like(m), m])
    normal = design.T @ (design * weight[:, None])
    intercept, slope = np.linalg.solve(normal, design.T @ (weight * dispersion))
    slope_error = float(np.sqrt(np.linalg.inv(normal)[1, 1]))
    if slope <= 2 * slope_error or intercept <= 0:
        if slope > 2 * slope_error:  # all of it varies over time: a line through the origin
            slope = float((weight * m * dispersion).sum() / (weight * m * m).sum())
            return Variation(1e-9, slope, tuple(scales))
        return Variation(max(flat, 1e-9), 0.0, tuple(scales))
    return Variation(float(intercept), float(slope), tuple(scales))


def null_statistics(
    column: ColumnProfile,
    rows: int,
    statistic: str,
    draws: int,
    rng: np.random.Generator,
    *,
    rate_ratio: float = 1.0,
) -> np.ndarray:
    """The deciding statistic of ``draws`` simulated no-drift windows of ``rows`` rows.

    Window and reference are each drawn as the independent rows they are worth
    (:meth:`Variation.effective_rows`) around the reference's shares: sampling noise of both,
    bursts and variation over time, at the window's own length.

    The reference's chunks cannot tell rows that come in bursts from days that differ (either
    multiplies a day's variance the same way). They part when the window holds more (or fewer)
    rows per day than the reference: bursts still average out per row, day-to-day differences
    per day. ``rate_ratio`` (the window's rows per day over the reference's) takes whichever
    gives the window more noise, so that neither is mistaken for drift.
    """
    measured = variation(column)
    counts = column.counts
    shares = counts / counts.sum()
    clustering = measured.clustering * max(1.0, float(rate_ratio))
    window_rows = max(1, round(rows / (clustering + measured.over_time * rows)))
    reference_rows = max(1, round(measured.effective_rows(float(counts.sum()))))
    reference = rng.multinomial(reference_rows, shares, size=draws)
    window = rng.multinomial(window_rows, shares, size=draws)
    return _statistics(column, reference, window, statistic)[statistic]


def rate_ratio(profile: ReferenceProfile, column: ColumnProfile, window: WindowCounts) -> float:
    """The window's rows per day over the reference's, 1 when either is unknown."""
    import pandas as pd

    period = profile.periods.get(column.role) or {}
    if window.days is None or not period.get("start") or not period.get("end"):
        return 1.0
    span = pd.Timestamp(period["end"]) - pd.Timestamp(period["start"])
    reference_days = max(span / pd.Timedelta(days=1), 1.0)
    window_rate = window.rows / max(window.days, 1e-9)
    reference_rate = float(column.counts.sum()) / reference_days
    return window_rate / reference_rate if reference_rate > 0 else 1.0


def _fit(null: np.ndarray) -> tuple[float, float]:
    """``(scale, dof)`` of the scaled chi-square with the null's mean and variance.

    PSI, the chi-square statistic and the squared Jensen-Shannon distance are quadratic in small
    deviations of the shares, so their null distribution is close to a weighted sum of
    chi-square variables, which a scaled chi-square with the same two moments approximates
    (Satterthwaite): a smooth tail, where the simulated windows alone would give p-values only
    down to one over their number.
    """
    mean, variance = float(null.mean()), float(null.var())
    if mean <= 0 or variance <= 0:
        return 0.0, 1.0
    return variance / (2 * mean), 2 * mean**2 / variance


def _squared(statistic: str, value: float) -> float:
    return value**2 if statistic == "jensen_shannon" else value


def drift_table(
    profile: ReferenceProfile, window: WindowCounts, params: DriftParams | None = None
) -> pd.DataFrame:
    """Compare a window's counts with the reference, column by column.

    Args:
        profile: The reference profile.
        window: The window's counts on the profile's bins (``window.count_frame`` and friends).
        params: How drift is decided.

    Returns:
        One row per profiled column, with the columns of ``DRIFT_COLUMNS``: the four statistics
        (``wasserstein`` is ``nan`` for categorical columns), the deciding statistic's value,
        threshold, p-value and q-value (false-discovery adjusted), ``drifted``, and the bin that
        moved most (``"(120, 250]: 8.0% -> 15.2%"``).

    Raises:
        MonitoringError: If the window holds no rows.
    """
    import pandas as pd
    from scipy.stats import chi2

    params = params or DriftParams()
    if window.rows == 0:
        raise MonitoringError(
            "The window holds no predictions: nothing to compare with the reference. Check the "
            "window's dates and that the prediction log is written."
        )
    rng = np.random.default_rng(params.seed)
    rows, fits = [], []
    for column in profile.columns:
        reference = column.counts
        counts = np.asarray(window.counts[column.name])
        observed = _statistics(column, reference, counts)
        deciding = params.statistic
        null = null_statistics(
            column,
            int(counts.sum()),
            deciding,
            params.draws,
            rng,
            rate_ratio=rate_ratio(profile, column, window),
        )
        value = float(observed[deciding])
        scale, dof = _fit(_squared(deciding, null))
        if scale > 0:
            p_value = float(chi2.sf(_squared(deciding, value) / scale, dof))
        else:  # the statistic never moved in the reference: any change is drift
            p_value = 1.0 if value <= float(null.max(initial=0.0)) else 0.0
        chi = stats.chi_square(reference, counts)
        rows.append(
            {
                "column": column.name,
                "role": column.role,
                "kind": column.kind,
                "rows": int(counts.sum()),
                "missing_share": float(counts[-1] / max(counts.sum(), 1)),
                "psi": float(observed["psi"]),
                "jensen_shannon": float(observed["jensen_shannon"]),
                "wasserstein": float(observed.get("wasserstein", np.nan)),
                "chi_square": float(chi.statistic),
                "chi_square_p_value": float(chi.p_value),
                "statistic": deciding,
                "value": value,
                "p_value": p_value,
                "largest_change": _largest_change(column, reference, counts),
            }
        )
        fits.append((scale, dof, float(null.max(initial=0.0))))
    discovery = stats.benjamini_hochberg(np.array([row["p_value"] for row in rows]), params.alpha)
    for row, (scale, dof, top), rejected, q_value in zip(
        rows, fits, discovery.rejected, discovery.q_values, strict=True
    ):
        # The value whose p-value is the false-discovery cutoff: rejected <=> above it.
        if scale > 0:
            bound = scale * float(chi2.isf(discovery.cutoff, dof))
            bound = float(np.sqrt(bound)) if row["statistic"] == "jensen_shannon" else bound
        else:
            bound = top
        floor = params.min_effect.get(row["role"], 0.0)
        row["threshold"] = max(bound, floor)
        row["q_value"] = float(q_value)
        row["drifted"] = bool(rejected and row["value"] >= floor)
    return pd.DataFrame(rows, columns=list(DRIFT_COLUMNS))


def _largest_change(column: ColumnProfile, reference: np.ndarray, window: np.ndarray) -> str:
    p = reference / max(reference.sum(), 1)
    q = window / max(window.sum(), 1)
    moved = int(np.argmax(np.abs(q - p)))
    return f"{column.labels[moved]}: {p[moved]:.1%} -> {q[moved]:.1%}"
