"""PSI and its no-drift bound against hand-computed values and a simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training.psi import no_drift_bound, psi


def test_equal_distributions_have_no_drift():
    assert psi(np.array([20, 30, 50]), np.array([20, 30, 50])) == 0.0
    assert psi(np.array([0, 0]), np.array([0, 0])) == 0.0


def test_psi_by_hand():
    # half a row more per bin: (1.5, 1.5) / 3 against (1.5, 3.5) / 5
    expected = (0.3 - 0.5) * math.log(0.3 / 0.5) + (0.7 - 0.5) * math.log(0.7 / 0.5)
    assert psi(np.array([1, 1]), np.array([1, 3])) == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(0.169460, abs=1e-6)
    # with many rows the half row hardly counts: (0.25 - 0.5) ln(0.5) + (0.75 - 0.5) ln(1.5)
    assert psi(np.array([5000, 5000]), np.array([2500, 7500])) == pytest.approx(0.274653,
                                                                              abs=1e-3)


def test_a_bin_empty_on_both_sides_adds_nothing():
    assert psi(np.array([10, 0, 10]), np.array([5, 0, 15])) == \
        pytest.approx(psi(np.array([10, 10]), np.array([5, 15])))


def test_psi_refuses_different_bins():
    with pytest.raises(ValueError, match="same bins"):
        psi(np.array([0.5, 0.5]), np.array([1.0, 0.0, 0.0]))


def test_bound_by_hand():
    # chi-squared 99th percentile with 9 degrees of freedom: 21.666 (printed tables)
    assert no_drift_bound(5000, 300, 10) == pytest.approx((1 / 5000 + 1 / 300) * 21.666,
                                                          rel=1e-4)
    assert no_drift_bound(0, 300, 10) == math.inf


@pytest.mark.parametrize(("n_ref", "n_cur"), [(5000, 300), (8000, 100), (20000, 10000)])
@pytest.mark.parametrize("population", [
    np.full(10, 0.1),  # deciles
    np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.05, 0.05, 0.03, 0.01, 0.01]),  # rare categories
])
def test_two_samples_of_one_population_exceed_the_bound_about_one_time_in_a_hundred(
        n_ref, n_cur, population):
    rng = np.random.default_rng(5)
    bound = no_drift_bound(n_ref, n_cur, len(population))
    trials = 3000
    over = sum(psi(rng.multinomial(n_ref, population), rng.multinomial(n_cur, population))
               > bound for _ in range(trials))
    assert 0.003 < over / trials < 0.02
