"""A window's counts: the sum of its parts, period by period."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from lab2prod.errors import MonitoringError
from lab2prod.monitoring.reference import ReferenceProfile, profile_columns
from lab2prod.monitoring.window import PeriodCounts, count_frame, count_periods
from tests.lab2prod.monitoring.conftest import days


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    frame = days(np.random.default_rng(0), 10, 200)
    return ReferenceProfile(
        tuple(profile_columns(frame, numeric=["value"], categorical=["kind"], chunks=5))
    )


def test_counts_of_parts_add_up_to_the_counts_of_the_whole(profile):
    """Counting halves and adding them gives the whole's counts: what makes 10M rows cheap."""
    frame = days(np.random.default_rng(1), 3, 1_000, start="2026-02-01")
    whole = count_frame(profile, frame)
    parts = count_frame(profile, frame.iloc[:1_234]) + count_frame(profile, frame.iloc[1_234:])
    assert parts.rows == whole.rows == 3_000
    for name in profile.names:
        assert parts.counts[name].tolist() == whole.counts[name].tolist()
    assert parts.sums["value"] == pytest.approx(whole.sums["value"])


def test_polars_and_pandas_frames_count_the_same(profile):
    """A polars batch (the prediction log read lazily) counts as its pandas copy."""
    frame = days(np.random.default_rng(2), 2, 500, start="2026-02-01")
    from_polars = count_frame(profile, pl.from_pandas(frame))
    from_pandas = count_frame(profile, frame)
    for name in profile.names:
        assert from_polars.counts[name].tolist() == from_pandas.counts[name].tolist()


def test_period_counts_split_by_calendar_day_whatever_the_batches(profile):
    """Rows land in their day however the batches cut them; the total is every row; the
    JSON form round-trips."""
    frame = days(np.random.default_rng(3), 4, 300, start="2026-02-01")
    shuffled = frame.sample(frac=1.0, random_state=0)
    batches = [shuffled.iloc[i : i + 250] for i in range(0, len(shuffled), 250)]

    counts = count_periods(profile, batches, time_column="timestamp", period="1D")

    assert counts.starts == tuple(f"2026-02-0{day}T00:00:00" for day in range(1, 5))
    assert [window.rows for window in counts.windows] == [300] * 4
    assert counts.total.days == pytest.approx(4.0)
    by_day = frame.groupby(frame["timestamp"].dt.floor("1D"))
    for window, (_, day) in zip(counts.windows, by_day, strict=True):
        assert window.counts["kind"].tolist() == count_frame(profile, day).counts["kind"].tolist()
    again = PeriodCounts.from_dict(counts.to_dict())
    assert again.total.counts["value"].tolist() == counts.total.counts["value"].tolist()


def test_rows_without_a_time_are_left_out_of_every_period(profile):
    """A missing time places a row in no period, so in no window."""
    frame = days(np.random.default_rng(4), 1, 100, start="2026-02-01")
    frame.loc[:9, "timestamp"] = pd.NaT
    counts = count_periods(profile, [frame], time_column="timestamp")
    assert counts.rows == 90


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"timestamp": [pd.Timestamp("2026-01-01")], "value": [1.0]}), "kind"),
        (pd.DataFrame({"value": [1.0], "kind": ["a"]}), "time column 'timestamp'"),
    ],
)
def test_a_frame_without_the_profiled_columns_is_refused_by_name(profile, frame, message):
    """A missing column is named with what the frame has."""
    with pytest.raises(MonitoringError, match=message):
        count_periods(profile, [frame], time_column="timestamp")


def test_no_rows_at_all_is_an_error(profile):
    """A window with nothing in it says so instead of returning empty counts."""
    empty = days(np.random.default_rng(5), 1, 10).iloc[:0]
    with pytest.raises(MonitoringError, match="no predictions"):
        count_periods(profile, [empty], time_column="timestamp")
