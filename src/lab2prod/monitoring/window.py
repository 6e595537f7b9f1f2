"""A window's counts on the reference's bins: mergeable, so any number of parts add up.

The monitoring pipeline counts a prediction log batch by batch and adds the batches; each serving
worker counts what it scores and the live gauges add the workers. Either way the counts of a
window are the sum of the counts of its parts, which is what makes 10 million rows cheap: only
the counts are ever held, never the rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lab2prod.errors import MonitoringError
from lab2prod.monitoring.columns import row_count

if TYPE_CHECKING:
    from lab2prod.monitoring.reference import ReferenceProfile


@dataclass(frozen=True)
class WindowCounts:
    """Counts per bin of each profiled column over some rows.

    Attributes:
        counts: Per column, the count per bin (the profile's bins).
        sums: Per numeric column, the sum of the values per bin.
        rows: How many rows were counted.
        days: How many days the rows span, when known (the periods holding rows).
    """

    counts: Mapping[str, np.ndarray]
    sums: Mapping[str, np.ndarray]
    rows: int
    days: float | None = None

    @classmethod
    def empty(cls, profile: ReferenceProfile) -> WindowCounts:
        """Zero counts on every bin of ``profile``."""
        return cls(
            {c.name: np.zeros(c.n_bins, np.int64) for c in profile.columns},
            {c.name: np.zeros(c.n_bins) for c in profile.columns if c.kind == "numeric"},
            0,
        )

    def __add__(self, other: WindowCounts) -> WindowCounts:
        if set(self.counts) != set(other.counts):
            raise MonitoringError(
                "Cannot add counts of different columns: "
                f"{sorted(self.counts)} and {sorted(other.counts)}"
            )
        days = None if self.days is None or other.days is None else self.days + other.days
        return WindowCounts(
            {name: self.counts[name] + other.counts[name] for name in self.counts},
            {name: self.sums[name] + other.sums[name] for name in self.sums},
            self.rows + other.rows,
            days,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "days": self.days,
            "counts": {name: counts.tolist() for name, counts in self.counts.items()},
            "sums": {name: sums.tolist() for name, sums in self.sums.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowCounts:
        return cls(
            {name: np.asarray(c, np.int64) for name, c in data["counts"].items()},
            {name: np.asarray(s, np.float64) for name, s in data["sums"].items()},
            int(data["rows"]),
            data.get("days"),
        )


def count_frame(
    profile: ReferenceProfile, frame: Any, *, columns: Iterable[str] | None = None
) -> WindowCounts:
    """Count the rows of ``frame`` on the bins of ``profile``.

    Args:
        profile: The reference profile.
        frame: A table with the profiled columns: pandas, polars, or a mapping of column name
            to values (numpy or pandas arrays, lists) of as many rows each.
        columns: Count only these (default: every profiled column the frame has; a profiled
            column it lacks is an error).

    Raises:
        MonitoringError: If a profiled column is missing from ``frame``.
    """
    present = set(frame) if isinstance(frame, Mapping) else set(frame.columns)
    wanted = list(columns) if columns is not None else profile.names
    missing = [name for name in wanted if name not in present]
    if missing:
        raise MonitoringError(
            f"The data lacks profiled column(s) {missing}; it has {sorted(map(str, present))}. "
            "Log (or pass) every column the reference profile monitors.",
            column=missing[0],
        )
    window = WindowCounts.empty(profile)
    counts, sums = dict(window.counts), dict(window.sums)
    for name in wanted:
        column = profile.column(name)
        counts[name], column_sums = column.bin(frame[name])
        if column_sums is not None:
            sums[name] = column_sums
    return WindowCounts(counts, sums, row_count(frame))


def count_batches(
    profile: ReferenceProfile, batches: Iterable[Any], *, columns: Iterable[str] | None = None
) -> WindowCounts:
    """Count and add up any number of frames: the window is the sum of its batches."""
    wanted = list(columns) if columns is not None else None
    total = WindowCounts.empty(profile)
    for batch in batches:
        total = total + count_frame(profile, batch, columns=wanted)
    return total


@dataclass(frozen=True)
class PeriodCounts:
    """A window's counts, period by period (day by day): drift over time, and the total.

    Attributes:
        period: The length of a period (a pandas frequency, ``"1D"``).
        starts: When each period starts (ISO timestamps), in order.
        windows: The counts of each period.
    """

    period: str
    starts: tuple[str, ...]
    windows: tuple[WindowCounts, ...]

    @property
    def total(self) -> WindowCounts:
        """The counts of the whole window."""
        total = self.windows[0]
        for window in self.windows[1:]:
            total = total + window
        return total

    @property
    def rows(self) -> int:
        return sum(window.rows for window in self.windows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "starts": list(self.starts),
            "windows": [window.to_dict() for window in self.windows],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PeriodCounts:
        return cls(
            data["period"],
            tuple(data["starts"]),
            tuple(WindowCounts.from_dict(w) for w in data["windows"]),
        )


def count_periods(
    profile: ReferenceProfile,
    batches: Iterable[Any],
    *,
    time_column: str,
    period: str = "1D",
    columns: Iterable[str] | None = None,
) -> PeriodCounts:
    """Count frames on the profile's bins, each row in the period its ``time_column`` falls in.

    Rows without a time are counted in no period (and so in no total): a window is a span of
    time.

    Raises:
        MonitoringError: If a frame lacks the time column or a profiled column, or nothing at
            all was counted.
    """
    import pandas as pd

    step = pd.Timedelta(period).value // 1000  # microseconds
    if step <= 0:
        raise MonitoringError(f"The period must be positive, got {period!r}")
    wanted = list(columns) if columns is not None else profile.names
    counts: dict[int, dict[str, np.ndarray]] = {}
    sums: dict[int, dict[str, np.ndarray]] = {}
    rows: dict[int, int] = {}
    for batch in batches:
        if time_column not in batch.columns:
            raise MonitoringError(
                f"The data lacks the time column {time_column!r}; it has "
                f"{sorted(map(str, batch.columns))}",
                column=time_column,
            )
        missing = [name for name in wanted if name not in batch.columns]
        if missing:
            raise MonitoringError(
                f"The data lacks profiled column(s) {missing}; it has "
                f"{sorted(map(str, batch.columns))}. Log (or pass) every column the reference "
                "profile monitors.",
                column=missing[0],
            )
        times = _micros(batch[time_column])
        keep = times != _NO_TIME
        keys, groups = np.unique(times[keep] // step, return_inverse=True)
        if not keys.size:
            continue
        for key in keys.tolist():
            if key not in counts:
                counts[key] = {c.name: np.zeros(c.n_bins, np.int64) for c in profile.columns}
                sums[key] = {
                    c.name: np.zeros(c.n_bins) for c in profile.columns if c.kind == "numeric"
                }
                rows[key] = 0
        for key, n in zip(keys.tolist(), np.bincount(groups).tolist(), strict=True):
            rows[key] += n
        for name in wanted:
            column = profile.column(name)
            values = batch[name]
            values = values[keep] if not keep.all() else values
            batch_counts, batch_sums = column.bin(values, groups=groups, n_groups=keys.size)
            for i, key in enumerate(keys.tolist()):
                counts[key][name] += batch_counts[i]
                if batch_sums is not None:
                    sums[key][name] += batch_sums[i]
    if not rows:
        raise MonitoringError(
            "The window holds no predictions: nothing to compare with the reference. Check the "
            "window's dates and that the prediction log is written."
        )
    ordered = sorted(rows)
    starts = tuple(pd.Timestamp(key * step, unit="us").isoformat() for key in ordered)
    days = pd.Timedelta(period) / pd.Timedelta(days=1)
    windows = tuple(WindowCounts(counts[key], sums[key], rows[key], days) for key in ordered)
    return PeriodCounts(period, starts, windows)


_NO_TIME = np.iinfo(np.int64).min


def _micros(values: Any) -> np.ndarray:
    """Microseconds since the epoch per value (``_NO_TIME`` where missing)."""
    import pandas as pd

    if hasattr(values, "to_pandas") and not isinstance(values, pd.Series):
        values = values.to_pandas()
    stamps = pd.to_datetime(pd.Series(values))
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    micros = stamps.astype("datetime64[us]").to_numpy().astype(np.int64)
    return np.where(stamps.isna().to_numpy(), _NO_TIME, micros)
