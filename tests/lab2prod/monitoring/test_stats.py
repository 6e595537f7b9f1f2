"""The drift statistics against scipy's own, on histograms and on batches of them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats
from scipy.spatial.distance import jensenshannon

from lab2prod.monitoring import stats


def test_psi_is_the_textbook_sum_and_zero_for_equal_shares():
    """PSI = sum((q - p) ln(q / p)) over shares; counts of any scale give the same value."""
    reference = np.array([50, 30, 20])
    window = np.array([30, 30, 40])
    p, q = reference / 100, window / 100
    assert stats.psi(reference, window) == pytest.approx(((q - p) * np.log(q / p)).sum())
    assert stats.psi(reference, reference * 7) == pytest.approx(0.0)


def test_psi_of_an_empty_bin_is_large_but_finite():
    """A bin empty on one side takes the epsilon share instead of dividing by zero."""
    value = stats.psi(np.array([100, 0]), np.array([50, 50]))
    assert np.isfinite(value) and value > 1.0


def test_jensen_shannon_matches_scipy_and_is_bounded():
    """The distance (base 2) is scipy's: 0 for equal shares, 1 for disjoint histograms."""
    a, b = np.array([5.0, 3, 2, 0]), np.array([1.0, 1, 4, 4])
    assert stats.jensen_shannon(a, b) == pytest.approx(jensenshannon(a, b, base=2))
    assert stats.jensen_shannon(a, a * 3) == pytest.approx(0.0, abs=1e-9)
    assert stats.jensen_shannon(np.array([1, 0]), np.array([0, 1])) == pytest.approx(1.0)


def test_wasserstein_on_binned_data_matches_scipy_with_weights():
    """The earth mover's distance of two histograms at fixed points is scipy's, over the scale."""
    support = np.array([1.0, 2.5, 4.0, 10.0])
    a, b = np.array([4.0, 3, 2, 1]), np.array([1.0, 2, 3, 4])
    expected = scipy_stats.wasserstein_distance(support, support, a, b) / 2.0
    assert stats.wasserstein(a, b, support=support, scale=2.0) == pytest.approx(expected)
    assert stats.wasserstein(a, b, support=support, scale=0.0) == 0.0


def test_chi_square_matches_scipy_and_skips_bins_empty_on_both_sides():
    """Pearson's statistic, degrees of freedom and p-value of the 2 x k table are scipy's."""
    reference, window = np.array([40, 35, 25, 0]), np.array([20, 45, 35, 0])
    expected = scipy_stats.chi2_contingency(np.array([reference[:3], window[:3]]), correction=False)
    result = stats.chi_square(reference, window)
    assert result.statistic == pytest.approx(expected.statistic)
    assert result.dof == expected.dof == 2
    assert result.p_value == pytest.approx(expected.pvalue)


def test_every_statistic_takes_a_batch_of_windows_at_once():
    """A leading axis of windows gives one value per window, as the calibration needs."""
    reference = np.array([10, 20, 30])
    windows = np.array([[10, 20, 30], [30, 20, 10], [0, 0, 60]])
    for function in (stats.psi, stats.jensen_shannon):
        batch = function(reference, windows)
        assert batch.shape == (3,)
        assert batch.tolist() == pytest.approx([function(reference, w) for w in windows])
    chi = stats.chi_square(reference, windows).statistic
    assert chi.tolist() == pytest.approx(
        [float(stats.chi_square(reference, w).statistic) for w in windows]
    )


def test_benjamini_hochberg_matches_scipy_and_rejects_below_its_cutoff():
    """q-values are scipy's; rejected exactly where p <= cutoff = alpha * k / m."""
    p = np.array([0.0001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    result = stats.benjamini_hochberg(p, 0.05)
    assert result.q_values == pytest.approx(scipy_stats.false_discovery_control(p))
    assert result.rejected.tolist() == [True, True] + [False] * 8
    assert result.cutoff == pytest.approx(0.05 * 2 / 10)
    assert (result.rejected == (p <= result.cutoff)).all()


def test_benjamini_hochberg_without_discovery_reports_the_single_test_cutoff():
    """Nothing rejected: the cutoff is alpha / m, what the most significant test needed."""
    result = stats.benjamini_hochberg(np.array([0.5, 0.2, 0.9]), 0.01)
    assert not result.rejected.any()
    assert result.cutoff == pytest.approx(0.01 / 3)


@pytest.mark.parametrize(
    ("p_values", "alpha", "message"),
    [
        ([0.1, 0.2], 0.0, "alpha must be in"),
        ([0.1, 0.2], 1.0, "alpha must be in"),
        ([0.1, 1.5], 0.05, "p-values must be in"),
        ([0.1, float("nan")], 0.05, "p-values must be in"),
    ],
)
def test_benjamini_hochberg_refuses_bad_input(p_values, alpha, message):
    """A bad level or p-value is named, not silently used."""
    with pytest.raises(ValueError, match=message):
        stats.benjamini_hochberg(np.array(p_values), alpha)
