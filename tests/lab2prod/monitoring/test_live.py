"""Live drift: each worker's window on the reference's bins, merged into gauges."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from lab2prod.monitoring.live import LiveCounts, LiveDrift, merged_window
from lab2prod.monitoring.reference import ReferenceProfile, profile_columns
from lab2prod.monitoring.window import count_frame
from tests.lab2prod.monitoring.conftest import days


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    frame = days(np.random.default_rng(0), 20, 500)
    score = frame.assign(score=np.random.default_rng(1).uniform(0, 1, len(frame)))
    return ReferenceProfile(
        (
            *profile_columns(frame, numeric=["value"], categorical=["kind"], chunks=20),
            *profile_columns(score, numeric=["score"], role="score", chunks=20),
        ),
        score="score",
    )


def batch(seed: int, rows: int, shift: float = 0.0):
    frame = days(np.random.default_rng(seed), 1, rows, shift=shift)
    inputs = frame[["value", "kind"]]
    outputs = frame[[]].assign(score=np.random.default_rng(seed + 100).uniform(0, 1, rows))
    return inputs, outputs


def gauges(text: str) -> dict[tuple[str, str], float]:
    return {
        (sample.name, sample.labels.get("column", "")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if "bin" not in sample.labels
    }


def arrays(frame: pd.DataFrame) -> dict:
    """A frame's columns as a service hands them over: numpy arrays, pandas' strings."""
    return {n: s.to_numpy() if isinstance(s.dtype, np.dtype) else s.array for n, s in frame.items()}


def test_workers_windows_add_up_to_the_counts_of_all_they_scored(profile, tmp_path):
    """Two workers' published windows merge into the counts of every row either scored, be
    the batches frames or columns (as a service hands them over)."""
    first, second = (LiveCounts(profile, directory=tmp_path, publish_seconds=60) for _ in "ab")
    second.path = tmp_path / "lab2prod-live-drift-other.json"  # another worker's file
    parts = [batch(seed, 300) for seed in range(6)]
    for inputs, outputs in parts[:3]:
        first.add(inputs, outputs)
    for inputs, outputs in parts[3:]:
        second.add(arrays(inputs), outputs)
    first.publish()
    second.publish()

    merged, workers = merged_window(profile, tmp_path, max_age=60)

    expected = count_frame(
        profile, pd.concat([inputs.join(outputs) for inputs, outputs in parts], ignore_index=True)
    )
    assert workers == 2 and merged.rows == 1_800
    for name in profile.names:
        assert merged.counts[name].tolist() == expected.counts[name].tolist()


def test_rows_leave_the_window_once_it_has_moved_past_them(profile, tmp_path):
    """A window of 60 s in 6 slots: rows counted at t=0 are gone at t=70, later ones stay."""
    live = LiveCounts(profile, directory=tmp_path, window_seconds=60, slots=6)
    live.add(*batch(1, 100))
    assert live.window(now=1_000.0).rows == 100
    live.add(*batch(2, 50))
    assert live.window(now=1_035.0).rows == 150
    assert live.window(now=1_070.0).rows == 50
    assert live.window(now=1_100.0).rows == 0


def test_a_worker_gone_is_left_out_and_a_closed_one_removes_its_file(profile, tmp_path):
    """A file not refreshed for three intervals is not counted; close() removes the file."""
    live = LiveCounts(profile, directory=tmp_path, publish_seconds=1)
    live.add(*batch(1, 100))
    live.publish()
    stale = tmp_path / "lab2prod-live-drift-999999.json"
    stale.write_text(live.path.read_text())
    os.utime(stale, (0, 0))

    merged, workers = merged_window(profile, tmp_path, max_age=3)
    assert (merged.rows, workers) == (100, 1)
    live.close()
    assert not live.path.exists()


def test_gauges_flag_a_shifted_window_and_not_a_clean_one(profile, tmp_path):
    """The same calibrated verdict as the monitoring check: a clean window is under every
    threshold; a window whose values moved by one sd is over for `value` only."""
    live = LiveCounts(profile, directory=tmp_path, publish_seconds=60)
    drift = LiveDrift(
        profile, directory=tmp_path, prefix="svc", publish_seconds=60, cache_seconds=0
    )
    live.add(*batch(7, 2_000))
    live.publish()
    clean = gauges(drift.exposition())

    assert clean[("svc_drift_window_rows", "")] == 2_000
    assert clean[("svc_drift_workers", "")] == 1
    for column in ("value", "kind", "score"):
        assert clean[("svc_drift_psi", column)] < clean[("svc_drift_threshold", column)]
        assert clean[("svc_drift_drifted", column)] == 0

    live.add(*batch(8, 6_000, shift=1.0))
    live.publish()
    shifted = gauges(drift.exposition())

    assert shifted[("svc_drift_psi", "value")] > shifted[("svc_drift_threshold", "value")]
    assert shifted[("svc_drift_drifted", "value")] == 1
    assert shifted[("svc_drift_drifted", "kind")] == 0


def test_the_score_shares_of_window_and_reference_each_sum_to_one(profile, tmp_path):
    """The score's distribution against the reference: a share per bin and side."""
    live = LiveCounts(profile, directory=tmp_path, publish_seconds=60)
    live.add(*batch(3, 500))
    live.publish()
    text = LiveDrift(profile, directory=tmp_path, prefix="svc").exposition()
    shares: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "svc_drift_share":
                side = sample.labels["side"]
                shares[side] = shares.get(side, 0.0) + sample.value
    assert shares == pytest.approx({"window": 1.0, "reference": 1.0})


def test_an_empty_window_says_so_without_drift_series(profile, tmp_path):
    """No rows yet: rows 0, no PSI at all (not a made-up 0)."""
    text = LiveDrift(profile, directory=tmp_path, prefix="svc").exposition()
    values = gauges(text)
    assert values[("svc_drift_window_rows", "")] == 0
    assert not any(name == "svc_drift_psi" for name, _ in values)
