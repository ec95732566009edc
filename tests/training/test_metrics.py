"""Metrics on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training.metrics import (
    arr_captured_at,
    evaluate_scores,
    expected_calibration_error,
    lift_at,
    recall_at,
)


def test_lift_and_recall_at_top_decile_by_hand():
    # 20 rows, 4 churners; the top 10% (2 rows) holds 2 churners.
    y = np.array([1, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], float)
    score = np.linspace(1, 0, 20)
    assert lift_at(y, score, 0.10) == pytest.approx((2 / 2) / (4 / 20))
    assert recall_at(y, score, 0.10) == pytest.approx(2 / 4)
    assert recall_at(y, score, 0.20) == pytest.approx(2 / 4)  # rows 0-3: churners at 0, 1


def test_churned_arr_captured_counts_money_not_logos():
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0], float)
    score = np.array([0.9, 0.8, 0.1, 0, 0, 0, 0, 0, 0, 0])
    arr = np.array([100.0, 5, 900, 1, 1, 1, 1, 1, 1, 1])
    assert arr_captured_at(y, score, arr, 0.10) == pytest.approx(100 / 1000)


def test_ece_is_zero_for_perfectly_calibrated_bins_and_large_otherwise():
    y = np.array([0, 0, 0, 1] * 25, float)
    assert expected_calibration_error(y, np.full(100, 0.25)) == pytest.approx(0.0)
    assert expected_calibration_error(y, np.full(100, 0.95)) == pytest.approx(0.70)


def test_single_class_gives_nan_auc_not_an_error():
    out = evaluate_scores(np.zeros(5), np.linspace(0, 1, 5))
    assert math.isnan(out["roc_auc"]) and math.isnan(out["lift_at_10"])
    assert out["brier"] == pytest.approx((0 + 0.0625 + 0.25 + 0.5625 + 1) / 5, abs=1e-5)


def test_perfect_ranking_has_auc_one():
    y = np.array([0, 0, 1, 1], float)
    assert evaluate_scores(y, np.array([0.1, 0.2, 0.8, 0.9]))["roc_auc"] == 1.0
