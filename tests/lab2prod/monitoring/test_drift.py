"""The drift table: calibrated thresholds hold their false-alarm rate, and drift is found.

A naive test (chi-square on the counts) is the baseline of each calibration test: on data whose
rows come in bursts, or whose days differ, it flags most quiet windows; the calibrated
thresholds flag about ``alpha`` of them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lab2prod.errors import MonitoringError
from lab2prod.monitoring import stats
from lab2prod.monitoring.drift import DRIFT_COLUMNS, DriftParams, drift_table, variation
from lab2prod.monitoring.reference import ReferenceProfile, profile_columns
from lab2prod.monitoring.window import WindowCounts, count_periods
from tests.lab2prod.monitoring.conftest import days

QUIET_WINDOWS = 60


def profile_of(frame: pd.DataFrame) -> ReferenceProfile:
    times = frame["timestamp"]
    period = {"start": times.min().isoformat(), "end": times.max().isoformat()}
    return ReferenceProfile(
        tuple(
            profile_columns(
                frame,
                numeric=["value"],
                categorical=["kind"],
                n_bins=10,
                time_column="timestamp",
                chunk_period="1D",
            )
        ),
        periods={"input": period},
    )


def count(profile: ReferenceProfile, window: pd.DataFrame) -> WindowCounts:
    """The window's counts, with the days it spans (as the monitoring counts them)."""
    return count_periods(profile, [window], time_column="timestamp").total


def alarms(profile: ReferenceProfile, windows: list[pd.DataFrame], alpha: float = 0.05):
    """(calibrated alarms, naive chi-square alarms) over the windows, any column."""
    params = DriftParams(alpha=alpha, min_effect={"input": 0.0}, draws=300)
    calibrated = naive = 0
    for window in windows:
        counts = count(profile, window)
        table = drift_table(profile, counts, params)
        calibrated += bool(table["drifted"].any())
        p_values = [
            float(stats.chi_square(column.counts, counts.counts[column.name]).p_value)
            for column in profile.columns
        ]
        naive += bool(stats.benjamini_hochberg(np.array(p_values), alpha).rejected.any())
    return calibrated, naive


@pytest.mark.parametrize("rows", [300, 3_000, 30_000])
def test_independent_rows_of_the_same_process_rarely_alarm_whatever_the_window_size(rows):
    """No drift, independent rows: about alpha of the windows alarm, small or ten times the
    reference's size."""
    rng = np.random.default_rng(rows)
    profile = profile_of(days(rng, 20, 150))
    windows = [days(rng, 2, rows // 2, start="2026-02-01") for _ in range(QUIET_WINDOWS)]
    calibrated, _ = alarms(profile, windows)
    assert calibrated <= 0.05 * QUIET_WINDOWS + 4


def test_rows_in_bursts_do_not_alarm_where_a_naive_test_does():
    """Rows that come in bursts of 20 (a fraud event is several transactions): the calibration
    measures the clustering on the reference's days; naive chi-square alarms on most windows."""
    rng = np.random.default_rng(7)
    profile = profile_of(days(rng, 30, 400, burst=20))
    assert variation(profile.column("value")).clustering > 5
    windows = [days(rng, 3, 1_000, start="2026-03-01", burst=20) for _ in range(QUIET_WINDOWS)]
    calibrated, naive = alarms(profile, windows)
    assert naive >= QUIET_WINDOWS / 2
    assert calibrated <= 0.05 * QUIET_WINDOWS + 4


def test_days_that_differ_do_not_alarm_where_a_naive_test_does():
    """Each day has its own offset, and the window has four times the reference's rows per day:
    its days still differ as much, which the calibration allows for; naive chi-square, blind to
    it, alarms on most windows."""
    rng = np.random.default_rng(8)
    profile = profile_of(days(rng, 40, 500, day_effect=0.15))
    assert variation(profile.column("value")).clustering > 1.5
    windows = [
        days(rng, 7, 2_000, start="2026-03-01", day_effect=0.15) for _ in range(QUIET_WINDOWS)
    ]
    calibrated, naive = alarms(profile, windows)
    assert naive >= QUIET_WINDOWS / 2
    assert calibrated <= 0.05 * QUIET_WINDOWS + 4


def test_a_shifted_column_drifts_and_the_other_does_not():
    """A shift of a quarter of a standard deviation in `value` is found; `kind` is untouched."""
    rng = np.random.default_rng(9)
    profile = profile_of(days(rng, 20, 300))
    window = days(rng, 3, 2_000, start="2026-02-01", shift=0.25)

    table = drift_table(profile, count(profile, window)).set_index("column")

    assert table.loc["value", "drifted"] and not table.loc["kind", "drifted"]
    assert table.loc["value", "value"] > table.loc["value", "threshold"]
    assert table.loc["value", "largest_change"].count("%") == 2
    assert list(table.reset_index().columns) == list(DRIFT_COLUMNS)


def test_drifted_is_exactly_value_over_threshold():
    """The reported threshold is the decision: over it drifted, under it not, every column."""
    rng = np.random.default_rng(10)
    profile = profile_of(days(rng, 20, 300))
    for shift in (0.0, 0.05, 0.1, 0.2):
        window = days(rng, 2, 3_000, start="2026-02-01", shift=shift)
        table = drift_table(profile, count(profile, window), DriftParams(alpha=0.05))
        assert (table["drifted"] == (table["value"] > table["threshold"])).all(), shift


def test_a_real_but_tiny_shift_in_a_huge_window_stays_under_the_effect_floor():
    """Half a million rows make a 0.06 sd shift significant; the floor on PSI keeps it out."""
    rng = np.random.default_rng(11)
    profile = profile_of(days(rng, 20, 5_000))
    window = days(rng, 100, 5_000, start="2026-02-01", shift=0.06)
    counts = count(profile, window)

    without_floor = drift_table(profile, counts, DriftParams(min_effect={"input": 0.0}))
    with_floor = drift_table(profile, counts, DriftParams())

    assert without_floor.set_index("column").loc["value", "drifted"]
    assert not with_floor["drifted"].any()
    assert (with_floor["threshold"] >= 0.01).all()


@pytest.mark.parametrize("statistic", ["psi", "jensen_shannon", "chi_square"])
def test_each_deciding_statistic_finds_the_shift(statistic):
    """Whichever statistic decides, the shifted column drifts and the threshold is in its
    units."""
    rng = np.random.default_rng(12)
    profile = profile_of(days(rng, 20, 300))
    window = days(rng, 3, 2_000, start="2026-02-01", shift=0.3)
    params = DriftParams(statistic=statistic, min_effect={"input": 0.0})
    table = drift_table(profile, count(profile, window), params).set_index("column")
    assert table.loc["value", "statistic"] == statistic
    assert table.loc["value", "drifted"]
    assert table.loc["value", "value"] == pytest.approx(table.loc["value", statistic])


def test_the_same_data_and_seed_give_the_same_table():
    """The simulation is seeded: a check can be repeated exactly."""
    rng = np.random.default_rng(13)
    profile = profile_of(days(rng, 20, 300))
    counts = count(profile, days(rng, 2, 1_000, start="2026-02-01"))
    pd.testing.assert_frame_equal(drift_table(profile, counts), drift_table(profile, counts))


def test_an_empty_window_is_an_error_that_says_where_to_look():
    """No predictions in the window: a clear error, not a table of NaN."""
    profile = profile_of(days(np.random.default_rng(14), 5, 100))
    with pytest.raises(MonitoringError, match="no predictions"):
        drift_table(profile, WindowCounts.empty(profile))
