"""Calibration: fitted on held-out scores, monotone, and keeps the booster's ranking."""

from __future__ import annotations

import numpy as np
import pytest

from training.calibration import Calibrator, fit_calibrator


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibrated_probabilities_match_observed_rates(method):
    rng = np.random.default_rng(0)
    raw = rng.normal(-2, 1.5, 20_000)
    truth = 1 / (1 + np.exp(-(0.7 * raw + 0.4)))  # the booster is over-confident
    y = (rng.random(raw.size) < truth).astype(float)
    calibrator = fit_calibrator(raw, y, method)
    prob = calibrator.apply(raw)
    for low, high in ((0.0, 0.05), (0.1, 0.2), (0.3, 0.6)):
        in_bin = (prob >= low) & (prob < high)
        assert abs(prob[in_bin].mean() - y[in_bin].mean()) < 0.02


def test_isotonic_keeps_every_distinct_raw_score_in_order():
    rng = np.random.default_rng(1)
    raw = rng.normal(size=2_000)
    y = (rng.random(raw.size) < 1 / (1 + np.exp(-raw))).astype(float)
    calibrator = fit_calibrator(raw, y, "isotonic")
    order = np.argsort(raw)
    prob = calibrator.apply(raw[order])
    assert np.all(np.diff(prob) > 0)
    assert np.abs(prob - np.interp(raw[order], calibrator.x, calibrator.y)).max() <= 1e-6


def test_a_calibrator_round_trips_through_plain_data():
    calibrator = fit_calibrator(np.array([-1.0, 0.0, 1.0, 2.0]), np.array([0, 0, 1, 1.0]),
                                "isotonic")
    again = Calibrator.from_dict(calibrator.to_dict())
    raw = np.linspace(-3, 3, 7)
    np.testing.assert_array_equal(again.apply(raw), calibrator.apply(raw))
