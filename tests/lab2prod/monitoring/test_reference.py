"""The reference profile: bins, categories, chunks, and its JSON form."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lab2prod.errors import MonitoringError
from lab2prod.monitoring.reference import (
    MISSING,
    OTHER,
    ColumnProfile,
    ReferenceProfile,
    chunk_index,
    profile_columns,
)
from tests.lab2prod.monitoring.conftest import days


def test_numeric_bins_are_quantiles_closed_on_the_right_with_a_missing_bin():
    """Values equal to an edge fall in the bin it closes; NaN goes to the last bin."""
    column = ColumnProfile("x", "numeric", "input", np.zeros((2, 4), np.int64), edges=(1.0, 2.0))
    counts, sums = column.bin(pd.Series([0.5, 1.0, 1.5, 2.0, 9.0, None], dtype="float64"))
    assert counts.tolist() == [2, 2, 1, 1]
    assert sums.tolist() == pytest.approx([1.5, 3.5, 9.0, 0.0])
    assert column.labels == ["(-inf, 1]", "(1, 2]", "(2, inf]", MISSING]


def test_categorical_bins_keep_the_profiled_categories_and_put_the_rest_in_other():
    """A category never seen goes to (other), a missing value to (missing), booleans as text."""
    column = ColumnProfile(
        "c", "categorical", "input", np.zeros((2, 4), np.int64), categories=("a", "b")
    )
    counts, sums = column.bin(pd.Series(["a", "b", "b", "zzz", None]))
    assert counts.tolist() == [1, 2, 1, 1] and sums is None
    assert column.labels == ["a", "b", OTHER, MISSING]
    flags = ColumnProfile(
        "f", "categorical", "input", np.zeros((2, 4), np.int64), categories=("false", "true")
    )
    assert flags.bin(pd.Series([True, False, True]))[0].tolist() == [1, 2, 0, 0]


def test_counts_by_group_equal_the_counts_of_each_group_alone():
    """Counting days apart in one pass gives each day's own counts."""
    rng = np.random.default_rng(0)
    (column,) = profile_columns(days(rng, 4, 200), numeric=["value"], chunks=4)
    values = rng.normal(size=300)
    groups = rng.integers(0, 3, size=300)
    counts, sums = column.bin(values, groups=groups, n_groups=3)
    for group in range(3):
        alone, alone_sums = column.bin(values[groups == group])
        assert counts[group].tolist() == alone.tolist()
        assert sums[group] == pytest.approx(alone_sums)


def test_profile_of_days_keeps_counts_per_day_and_round_trips_through_json():
    """chunk_period='1D' gives one chunk per day; to_dict/from_dict is plain JSON and lossless."""
    frame = days(np.random.default_rng(1), 12, 300)
    columns = profile_columns(
        frame,
        numeric=["value"],
        categorical=["kind"],
        n_bins=10,
        time_column="timestamp",
        chunk_period="1D",
    )
    value, kind = columns
    assert value.chunk_counts.shape == (12, len(value.edges) + 2)
    assert value.chunk_counts.sum(axis=1).tolist() == [300] * 12
    assert len(value.edges) == 9
    assert kind.categories == ("a", "b", "c")
    assert value.std == pytest.approx(frame["value"].std(ddof=0))

    profile = ReferenceProfile(tuple(columns), performance={"recall": float("nan")})
    data = json.loads(json.dumps(profile.to_dict(), allow_nan=False))
    again = ReferenceProfile.from_dict(data)
    assert again.names == ["value", "kind"]
    assert (again.column("value").chunk_counts == value.chunk_counts).all()
    assert again.column("value").support == pytest.approx(value.support)
    assert np.isnan(again.performance["recall"])


def test_support_is_each_bins_mean_and_increasing():
    """The Wasserstein distance's points: the reference's mean of each bin, in order."""
    frame = days(np.random.default_rng(2), 5, 400)
    (value,) = profile_columns(frame, numeric=["value"], n_bins=8, chunks=5)
    index = np.searchsorted(np.asarray(value.edges), frame["value"].to_numpy(), side="left")
    means = [frame["value"].to_numpy()[index == i].mean() for i in range(len(value.edges) + 1)]
    assert value.support == pytest.approx(means)
    assert (np.diff(value.support) > 0).all()


def test_a_sparse_day_joins_a_neighbour():
    """A period with fewer than MIN_CHUNK_ROWS rows is merged, never a chunk of its own: into
    the chunk it starts, or, last, into the one before."""

    def chunks(*days: tuple[str, int]) -> list[int]:
        times = pd.Series(pd.to_datetime([day for day, rows in days for _ in range(rows)]))
        return np.bincount(chunk_index(len(times), times=times, period="1D")).tolist()

    assert chunks(("2026-01-01 01:00", 60), ("2026-01-02 01:00", 5), ("2026-01-03 01:00", 70)) == [
        60,
        75,
    ]
    assert chunks(("2026-01-01 01:00", 60), ("2026-01-02 01:00", 70), ("2026-01-03 01:00", 5)) == [
        60,
        75,
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"numeric": ["nope"]}, r"Cannot profile column\(s\) \['nope'\]"),
        ({"numeric": ["kind"]}, "profiled as numeric but holds values that are not numbers"),
        ({"n_bins": 1}, "n_bins and chunks must be >= 2"),
        ({"rows": 20}, "at least 2 chunks of 10 rows"),
        ({"chunk_period": "1D", "time_column": None}, "needs the time column"),
    ],
)
def test_profiling_refuses_what_it_cannot_profile(change, message):
    """Each bad input is named with the fix, before anything is profiled."""
    frame = days(np.random.default_rng(3), 3, 100)
    rows = change.pop("rows", None)
    if rows is not None:
        frame = frame.head(rows)
    arguments = {"numeric": ["value"], "chunks": 3, **change}
    with pytest.raises(MonitoringError, match=message):
        profile_columns(frame, **arguments)


def test_profile_names_a_missing_column_with_did_you_mean():
    """Asking for a column it does not hold suggests the closest one."""
    frame = days(np.random.default_rng(4), 3, 100)
    profile = ReferenceProfile(tuple(profile_columns(frame, numeric=["value"], chunks=3)))
    with pytest.raises(MonitoringError, match="did you mean 'value'"):
        profile.column("valeu")


def test_a_newer_profile_format_is_refused():
    """A profile written by a newer lab2prod says to upgrade instead of misreading it."""
    with pytest.raises(MonitoringError, match="upgrade lab2prod"):
        ReferenceProfile.from_dict({"lab2prod_profile": 99, "columns": []})
    with pytest.raises(MonitoringError, match="not a reference profile"):
        ReferenceProfile.from_dict({"columns": []})
