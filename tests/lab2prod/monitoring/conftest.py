"""Synthetic data for the monitoring tests: days of rows with known structure."""

from __future__ import annotations

import numpy as np
import pandas as pd


def days(
    rng: np.random.Generator,
    n_days: int,
    rows_per_day: int,
    *,
    start: str = "2026-01-01",
    shift: float = 0.0,
    day_effect: float = 0.0,
    burst: int = 1,
) -> pd.DataFrame:
    """``n_days`` days of rows: a normal ``value`` and a three-way ``kind``, in time order.

    Args:
        rng: The random source.
        n_days: How many days.
        rows_per_day: Rows per day.
        start: The first day.
        shift: Added to every value (drift).
        day_effect: The standard deviation of a per-day offset of the values (variation over
            time that does not average out within a day).
        burst: Rows come in bursts of this many identical rows (clustering).
    """
    frames = []
    for day in range(n_days):
        events = int(np.ceil(rows_per_day / burst))
        offset = rng.normal(0.0, day_effect) if day_effect else 0.0
        value = np.repeat(rng.normal(shift + offset, 1.0, events), burst)[:rows_per_day]
        kind = np.repeat(rng.choice(["a", "b", "c"], events, p=[0.6, 0.3, 0.1]), burst)
        seconds = np.sort(rng.uniform(0, 86_400, rows_per_day))
        frames.append(
            pd.DataFrame(
                {
                    "timestamp": pd.Timestamp(start)
                    + pd.Timedelta(days=day)
                    + pd.to_timedelta(seconds, unit="s"),
                    "value": value,
                    "kind": kind[:rows_per_day],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
