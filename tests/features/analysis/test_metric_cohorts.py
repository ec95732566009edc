"""Churn rate by decile of a signal, and redundant signals, on frames built by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.analysis.metric_cohorts import churn_rate_by_decile, correlated_signals


def test_deciles_are_equal_count_groups_in_signal_order():
    # Signal 1..20; the four lowest churn. Five buckets of four rows each.
    frame = pd.DataFrame({"signal": np.arange(1, 21, dtype=float),
                          "churned": pd.array([True] * 4 + [False] * 16, dtype="boolean")})
    got = churn_rate_by_decile(frame, "signal", buckets=5)
    assert list(got["bucket"]) == [1, 2, 3, 4, 5]
    assert list(got["low"]) == [1, 5, 9, 13, 17]
    assert list(got["high"]) == [4, 8, 12, 16, 20]
    assert list(got["rows"]) == [4, 4, 4, 4, 4]
    assert list(got["churn_rate"]) == [1.0, 0.0, 0.0, 0.0, 0.0]


def test_tied_values_share_a_bucket_and_missing_values_get_their_own():
    # Six zeros (two churned), two ones (both churned), two twos (none), two missing
    # (one churned), and two unlabelled rows that must be ignored.
    frame = pd.DataFrame({
        "open_tickets": [0, 0, 0, 0, 0, 0, 1, 1, 2, 2, np.nan, np.nan, 5, 5],
        "churned": pd.array([True, True, False, False, False, False, True, True, False,
                             False, True, False, None, None], dtype="boolean"),
    })
    got = churn_rate_by_decile(frame, "open_tickets", buckets=4)
    zeros, rest, missing = got.iloc[0], got.iloc[1:-1], got.iloc[-1]
    assert (zeros["low"], zeros["high"], zeros["rows"], zeros["churned"]) == (0, 0, 6, 2)
    assert zeros["churn_rate"] == pytest.approx(2 / 6)
    assert rest["rows"].sum() == 4 and rest["churned"].sum() == 2
    assert pd.isna(missing["bucket"])
    assert (missing["rows"], missing["churned"], missing["churn_rate"]) == (2, 1, 0.5)
    assert got["rows"].sum() == 12


def test_a_signal_missing_everywhere_gives_only_the_missing_row():
    frame = pd.DataFrame({"nps_latest": [np.nan] * 3,
                          "churned": pd.array([True, False, False], dtype="boolean")})
    got = churn_rate_by_decile(frame, "nps_latest")
    assert len(got) == 1 and pd.isna(got["bucket"].iloc[0])
    assert got["churn_rate"].iloc[0] == pytest.approx(1 / 3)


def test_correlated_pairs_use_rank_correlation_strongest_first():
    x = np.arange(1.0, 11.0)
    # w's ranks differ from x's by d = 4,-1,6,-1,2,-4,3,-4,-1,-4, so sum(d^2) = 116 and
    # Spearman's rho = 1 - 6 * 116 / (10 * 99) = 0.29697.
    w = np.array([5, 1, 9, 3, 7, 2, 10, 4, 8, 6], dtype=float)
    frame = pd.DataFrame({"x": x, "x_squared": x ** 2, "minus_x": -x, "w": w})
    strong = correlated_signals(frame, ["x", "x_squared", "minus_x", "w"], threshold=0.9)
    assert {(a, b) for a, b in zip(strong["feature"], strong["other"], strict=True)} == {
        ("x", "x_squared"), ("x", "minus_x"), ("x_squared", "minus_x")}
    assert sorted(strong["rho"]) == pytest.approx([-1.0, -1.0, 1.0])
    weak = correlated_signals(frame, ["x", "w"], threshold=0.25)
    assert weak["rho"].iloc[0] == pytest.approx(1 - 6 * 116 / 990)
    assert correlated_signals(frame, ["x", "w"], threshold=0.3).empty


def test_correlation_uses_the_rows_where_both_are_present():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, np.nan],
                          "b": [10.0, 20.0, 30.0, 40.0, 0.0]})
    got = correlated_signals(frame, ["a", "b"], threshold=0.99)
    assert got["rho"].tolist() == pytest.approx([1.0])
