"""A check from end to end on frames: the window, the label join, the verdict and its reasons."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from lab2prod.errors import MonitoringError
from lab2prod.monitoring import check
from lab2prod.monitoring.drift import DriftParams
from lab2prod.monitoring.performance import PerformanceParams
from lab2prod.monitoring.profiling import ReferenceParams, build_reference
from tests.lab2prod.monitoring.conftest import days

THRESHOLD = 0.5


def scored(rng: np.random.Generator, frame: pd.DataFrame, *, separation: float = 3.0):
    """``frame`` with ids, a 0/1 label, a score that ranks it, and the decision."""
    label = (rng.random(len(frame)) < 0.1).astype("int8")
    score = 1 / (1 + np.exp(-(rng.normal(-2.5, 1.0, len(frame)) + separation * label)))
    return frame.assign(
        transaction_id=[f"tx{i:08d}" for i in range(len(frame))],
        label=label,
        score=score,
        decision=score >= THRESHOLD,
    )


@pytest.fixture(scope="module")
def reference() -> check.Reference:
    rng = np.random.default_rng(0)
    frame = scored(rng, days(rng, 20, 300))
    params = ReferenceParams(
        numeric=["value"],
        categorical=["kind"],
        score_column="score",
        decision_column="decision",
        label_column="label",
        n_bins=10,
    )
    profile = build_reference(frame, frame, THRESHOLD, params)
    return check.reference_of(profile, "model:1")


def run(reference, log, labels=None, window=None):
    """count -> drift -> labels -> performance -> summary, as the pipeline wires them."""
    window = window or check.WindowParams()
    counts = check.count_window(reference, log, window)
    drift = check.check_drift(reference, counts, DriftParams())
    labelled = check.labelled_predictions(
        reference,
        log,
        labels if labels is not None else log.iloc[:0][["transaction_id", "label"]],
        counts,
        window,
        check.LabelParams(label_column="label"),
    )
    performance = check.check_performance(reference, labelled, PerformanceParams())
    return check.summarise(reference, counts, drift, performance)


def window_of(rng, *, shift=0.0, separation=3.0, start="2026-02-01", n_days=5):
    frame = scored(rng, days(rng, n_days, 1_000, start=start, shift=shift), separation=separation)
    labels = frame[["transaction_id", "label"]]
    return frame.drop(columns=["label"]).assign(model="model:1"), labels


def test_a_quiet_window_with_labels_is_ok(reference):
    """Same process, labels in: verdict ok, exit code 0, no reason."""
    log, labels = window_of(np.random.default_rng(1))
    summary = run(reference, log, labels)
    assert summary["verdict"] == "ok" and summary["exit_code"] == 0
    assert summary["reasons"] == []
    assert summary["window"]["rows"] == summary["window"]["labelled_rows"] == 5_000
    assert summary["model"] == "model:1"


def test_a_shifted_input_is_drift_with_one_line_of_reason(reference):
    """A shifted column: verdict drift, exit code 3, a line naming it and its threshold."""
    log, labels = window_of(np.random.default_rng(2), shift=0.5)
    summary = run(reference, log, labels)
    assert summary["verdict"] == "drift" and summary["exit_code"] == 3
    assert summary["drifted"] == ["value"]
    (line,) = summary["reasons"]
    assert line.startswith("drift: value (input) psi ") and "> threshold" in line


def test_a_model_that_stopped_ranking_is_decay(reference):
    """Scores that no longer separate the labels: verdict decay, exit code 4, a line per metric."""
    log, labels = window_of(np.random.default_rng(3), separation=0.0)
    summary = run(reference, log, labels)
    assert summary["verdict"] == "decay" and summary["exit_code"] == 4
    assert {"pr_auc", "recall"} <= set(summary["decayed"])
    assert any(line.startswith("decay: recall ") for line in summary["reasons"])


def test_the_window_is_the_last_days_and_only_the_checked_models_rows(reference):
    """`last` counts back from the newest row; rows of another model are left out."""
    rng = np.random.default_rng(4)
    log, _ = window_of(rng, n_days=6)
    log.loc[log.index[:500], "model"] = "model:0"
    counts = check.count_window(reference, log, check.WindowParams(last="2D"))
    newest = log["timestamp"].max()
    in_last_two_days = log["timestamp"] > newest - pd.Timedelta("2D")
    assert sum(w["rows"] for w in counts["windows"]) == in_last_two_days.sum()
    assert counts["starts"][-1] == "2026-02-06T00:00:00" and len(counts["starts"]) == 3
    everything = check.count_window(reference, log, check.WindowParams())
    assert sum(w["rows"] for w in everything["windows"]) == 5_500
    any_model = check.count_window(reference, log, check.WindowParams(same_model=False))
    assert sum(w["rows"] for w in any_model["windows"]) == 6_000


def test_labels_join_by_id_and_late_labels_overwrite_early_ones(reference):
    """Each prediction meets its label by id; a label repeated later wins; unlabelled rows are
    left out of decay, not of drift."""
    rng = np.random.default_rng(5)
    log, labels = window_of(rng, n_days=2)
    late = labels.iloc[:10].assign(label=1 - labels["label"].iloc[:10])
    some = pd.concat([labels.iloc[:1_000], late], ignore_index=True)
    counts = check.count_window(reference, log, check.WindowParams())
    labelled = check.labelled_predictions(
        reference, log, some, counts, check.WindowParams(), check.LabelParams(label_column="label")
    )
    assert len(labelled) == 1_000
    first = labelled.set_index("transaction_id").loc[late["transaction_id"], "label"]
    assert first.tolist() == late["label"].tolist()


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"last": "2D", "start": datetime(2026, 2, 1)}, "not both"),
        ({"start": datetime(2026, 3, 1), "end": datetime(2026, 2, 1)}, "at or after its end"),
        ({"last": "-1D"}, "must be positive"),
        ({"start": datetime(2027, 1, 1)}, "no predictions"),
    ],
)
def test_a_window_that_cannot_be_checked_is_named(reference, window, message):
    """Contradictory or empty windows fail with what is wrong."""
    log, _ = window_of(np.random.default_rng(6), n_days=2)
    with pytest.raises(MonitoringError, match=message):
        check.count_window(reference, log, check.WindowParams(**window))


def test_a_log_without_a_profiled_column_is_named(reference):
    """The log must carry every monitored column."""
    log, _ = window_of(np.random.default_rng(7), n_days=1)
    with pytest.raises(MonitoringError, match=r"lack column\(s\) \['kind'\]"):
        check.count_window(reference, log.drop(columns=["kind"]), check.WindowParams())


def test_a_package_without_a_profile_says_how_to_make_one():
    """A model packaged before monitoring existed: the error names the command."""

    class Package:
        tag = "fraud_detection:old"
        documents = None

    with pytest.raises(MonitoringError, match="kedro run --pipelines reference,packaging"):
        check.reference_of_package(Package())
