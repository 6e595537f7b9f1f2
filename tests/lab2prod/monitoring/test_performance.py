"""Decay: the model's metrics on a labelled window against the evaluation's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from lab2prod.monitoring.performance import (
    PERFORMANCE_COLUMNS,
    PerformanceParams,
    performance_metrics,
    performance_table,
)


def labelled(rng: np.random.Generator, rows: int, *, rate: float, separation: float):
    """Labels at ``rate`` and scores that rank them with the given separation."""
    labels = rng.random(rows) < rate
    logits = rng.normal(-4.0, 1.0, rows) + separation * labels
    scores = 1 / (1 + np.exp(-logits))
    return labels, scores


def test_metrics_are_the_usual_ones_at_the_threshold():
    """Recall, precision, FPR at the threshold, PR AUC, the positive rate and calibration."""
    labels = np.array([1, 1, 0, 0, 0, 1, 0, 0])
    scores = np.array([0.9, 0.4, 0.35, 0.1, 0.2, 0.8, 0.7, 0.05])
    metrics = performance_metrics(labels, scores, 0.5)
    assert metrics["recall"] == pytest.approx(2 / 3)
    assert metrics["precision"] == pytest.approx(2 / 3)
    assert metrics["fpr"] == pytest.approx(1 / 5)
    assert metrics["pr_auc"] == pytest.approx(average_precision_score(labels, scores))
    assert metrics["positive_rate"] == pytest.approx(3 / 8)
    assert metrics["calibration"] == pytest.approx(3 / scores.sum())
    decided = performance_metrics(labels, scores, 0.5, decisions=scores >= 0.3)
    assert decided["flagged"] == 5


def test_nothing_flagged_gives_an_undefined_precision_not_a_crash():
    """Precision without a single flag is NaN."""
    metrics = performance_metrics(np.array([0, 1, 0]), np.array([0.1, 0.2, 0.1]), 0.9)
    assert np.isnan(metrics["precision"]) and metrics["recall"] == 0.0


def test_the_same_model_on_new_labels_has_not_decayed():
    """Same separation, same rate: nothing is flagged (tolerances and both periods' noise)."""
    rng = np.random.default_rng(0)
    baseline = performance_metrics(*labelled(rng, 20_000, rate=0.02, separation=3.0), 0.1)
    for _ in range(10):
        window = performance_metrics(*labelled(rng, 20_000, rate=0.02, separation=3.0), 0.1)
        table = performance_table(window, baseline)
        assert not table["flagged"].any(), table


def test_a_model_that_ranks_worse_has_decayed_in_pr_auc_and_recall():
    """A weaker separation lowers PR AUC and recall beyond their tolerance: flagged as decay."""
    rng = np.random.default_rng(1)
    baseline = performance_metrics(*labelled(rng, 20_000, rate=0.02, separation=3.0), 0.1)
    window = performance_metrics(*labelled(rng, 20_000, rate=0.02, separation=1.0), 0.1)

    table = performance_table(window, baseline).set_index("metric")

    assert list(table.reset_index().columns) == list(PERFORMANCE_COLUMNS)
    assert table.loc["pr_auc", "flagged"] and table.loc["recall", "flagged"]
    assert set(table.loc[table["flagged"], "kind"]) == {"decay"}


def test_more_positives_is_label_drift_and_miscalibration_not_worse_ranking():
    """Twice the positives, ranked as well: the positive rate drifts and calibration decays;
    recall and FPR do not."""
    rng = np.random.default_rng(2)
    baseline = performance_metrics(*labelled(rng, 40_000, rate=0.02, separation=3.0), 0.1)
    labels, scores = labelled(rng, 40_000, rate=0.04, separation=3.0)
    # the model's scores stay those of a 2% world: calibrated there, not here
    _, scores_2pc = labelled(rng, 40_000, rate=0.02, separation=3.0)
    scores = np.sort(scores_2pc)[np.argsort(np.argsort(scores))]
    window = performance_metrics(labels, scores, 0.1)

    table = performance_table(window, baseline).set_index("metric")

    assert table.loc["positive_rate", "flagged"]
    assert table.loc["positive_rate", "kind"] == "label drift"
    assert table.loc["calibration", "flagged"]
    assert not table.loc["recall", "flagged"] and not table.loc["fpr", "flagged"]


def test_bursts_of_labels_widen_the_test():
    """With a design effect, a borderline drop is no longer significant."""
    rng = np.random.default_rng(3)
    baseline = performance_metrics(*labelled(rng, 20_000, rate=0.02, separation=3.0), 0.1)
    window = performance_metrics(*labelled(rng, 20_000, rate=0.02, separation=2.0), 0.1)
    alone = performance_table(window, baseline).set_index("metric")
    bursts = performance_table(window, baseline, design_effect=30.0).set_index("metric")
    assert alone.loc["recall", "p_value"] < bursts.loc["recall", "p_value"]


def test_too_few_positives_are_reported_not_judged():
    """Under min_positives, the metrics are in the table and nothing is flagged."""
    rng = np.random.default_rng(4)
    baseline = performance_metrics(*labelled(rng, 20_000, rate=0.02, separation=3.0), 0.1)
    window = performance_metrics(*labelled(rng, 300, rate=0.02, separation=0.0), 0.1)
    table = performance_table(window, baseline, PerformanceParams(min_positives=50))
    assert not table["flagged"].any()
    assert table["value"].notna().any()
