"""The reference profile: bins and counts by hand, month-to-month spread, JSON round trip,
and the profile a trained model carries."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from training.contract import FeatureContract
from training.profile import (
    CATEGORICAL,
    NUMERIC,
    Distribution,
    ReferenceProfile,
    build_profile,
    model_edges,
    numeric_distribution,
    split_thresholds,
)


def test_numeric_counts_by_hand():
    d = Distribution(NUMERIC, (0.2,) * 5, edges=(1.0, 2.0, 3.0))
    counts = d.counts(np.array([0.5, 1.0, 1.5, 2.0, 3.0, 4.0, np.nan]))
    assert counts.tolist() == [2, 2, 1, 1, 1]  # <=1, (1,2], (2,3], >3, missing
    assert d.labels() == ["≤ 1", "1–2", "2–3", "> 3", "missing"]
    assert d.missing_share(counts) == pytest.approx(1 / 7)


def test_nullable_booleans_count_as_numbers():
    d = Distribution(NUMERIC, (0.5, 0.5, 0.0), edges=(0.0,))
    values = pd.Series([True, False, pd.NA, True], dtype="boolean")
    assert d.counts(values).tolist() == [1, 2, 1]


def test_categorical_counts_by_hand():
    d = Distribution(CATEGORICAL, (0.5, 0.5, 0.0, 0.0), categories=("a", "b"))
    counts = d.counts(pd.Series(["a", "b", "a", None, "c", float("nan")], dtype="object"))
    assert counts.tolist() == [2, 1, 2, 1]  # a, b, missing, unseen
    assert d.cells == 3  # a, b and the unseen bin a run can fall in


def test_deciles_merge_ties():
    values = np.array([0.0] * 80 + list(range(1, 21)), dtype=float)
    d = numeric_distribution(values, np.array(["2024-01"] * 100))
    assert d.edges[0] == 0.0 and len(d.edges) == len(set(d.edges))
    assert d.shares[0] == pytest.approx(0.8)


def test_natural_spread_is_zero_for_alike_months_and_large_for_a_different_one():
    rng = np.random.default_rng(1)
    alike = rng.normal(size=3000)
    months = np.repeat(["2024-01", "2024-02", "2024-03"], 1000)
    assert numeric_distribution(alike, months).natural == 0.0
    shifted = alike.copy()
    shifted[2000:] += 1.0  # March is different
    assert numeric_distribution(shifted, months).natural > 0.2


def _frame() -> pd.DataFrame:
    as_of = pd.to_datetime(["2024-01-01"] * 4 + ["2024-02-01"] * 4, utc=True)
    return pd.DataFrame({
        "account_id": list("abcdabcd"), "as_of": as_of,
        "churned": pd.array([True, False, False, False, False, True, False, False],
                            dtype="boolean"),
        "logins": [1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, np.nan],
        "plan": pd.Categorical(["pro", "pro", "basic", None, "pro", "basic", "basic", "pro"]),
    })


def test_build_profile_and_round_trip():
    frame = _frame()
    contract = FeatureContract.from_frame(frame, ["logins", "plan"])
    rows = np.arange(8)
    probability = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    profile = build_profile(frame, rows, contract, probability,
                            thresholds={"logins": [1.5, 2.5]},
                            importance={"logins": 0.5, "plan": 0.1}, churn_rate=0.25,
                            backtest={"roc_auc": {"mean": 0.8, "std": 0.02, "folds": 3.0}})
    assert profile.rows == 8 and profile.window == ("2024-01-01", "2024-02-01")
    assert profile.features["logins"].edges == (1.5, 2.5)
    # logins 1, 2, 3, 4, 1, 2, 3, NaN: <=1.5 two, (1.5, 2.5] two, >2.5 three, missing one
    assert profile.features["logins"].shares == pytest.approx((2 / 8, 2 / 8, 3 / 8, 1 / 8))
    assert profile.mean_probability == pytest.approx(0.45)
    assert profile.top_features(1) == ["logins"]
    plan = profile.features["plan"]
    assert plan.categories == ("basic", "pro")
    assert plan.shares == pytest.approx((3 / 8, 4 / 8, 1 / 8, 0.0))
    assert profile.features["logins"].missing_share(profile.features["logins"].shares) == \
        pytest.approx(1 / 8)
    assert ReferenceProfile.from_dict(profile.to_dict()) == profile


def test_band_share_reads_the_percentiles():
    frame = _frame()
    contract = FeatureContract.from_frame(frame, ["logins"])
    probability = np.linspace(0.0, 1.0, 8)
    profile = build_profile(frame, np.arange(8), contract, probability, thresholds={},
                            importance={}, churn_rate=0.1, backtest={})
    assert profile.features["logins"].edges == ()  # never split on: one bin and missing
    assert profile.band_share(0.3) == pytest.approx(0.7, abs=1e-9)
    assert profile.band_share(0.15, 0.3) == pytest.approx(0.15, abs=1e-9)
    assert profile.band_share(0.0) == pytest.approx(1.0)
    assert math.isclose(profile.band_share(1.1), 0.0)


def test_model_edges_keep_the_thresholds_nearest_the_deciles():
    values = np.arange(1000, dtype=float)
    assert model_edges(values, [500.5, 100.5, 100.5]) == (100.5, 500.5)  # few: all of them
    many = np.arange(0.5, 1000, 10.0)  # 100 thresholds
    edges = model_edges(values, many)
    assert len(edges) == 9
    assert edges[0] == pytest.approx(99.5, abs=10) and edges[-1] == pytest.approx(899.5, abs=10)


def test_split_thresholds_are_read_from_the_trees():
    import lightgbm as lgb

    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 2))
    y = (x[:, 0] > 0.3).astype(int)
    booster = lgb.train({"verbose": -1, "num_leaves": 2, "min_data_in_leaf": 5},
                        lgb.Dataset(x, y, feature_name=["signal", "noise"]), 5)
    found = split_thresholds(booster)
    assert set(found) <= {"signal", "noise"} and found["signal"]
    assert all(abs(t - 0.3) < 0.1 for t in found["signal"])


@pytest.mark.slow
def test_a_trained_model_carries_the_profile_of_its_out_of_time_snapshots(simulated_set,
                                                                          trained_model):
    frame, _, _ = simulated_set
    profile = trained_model.profile
    assert profile is not None
    as_of = pd.to_datetime(frame["as_of"], utc=True)
    first, last = pd.Timestamp(profile.window[0], tz="UTC"), pd.Timestamp(profile.window[1],
                                                                          tz="UTC")
    # every snapshot of the newest six months, labelled or not, as a scoring run sees them
    assert last == as_of.max() and first == as_of.max() - pd.DateOffset(months=5)
    assert profile.rows == int((as_of >= first).sum())
    assert set(profile.features) == set(trained_model.contract.names)
    assert 0 < profile.churn_rate < 0.5 and 0 < profile.mean_probability < 0.5
    # numeric bins are cut where the model cuts: only features it splits on have edges
    used = split_thresholds(trained_model.booster)
    for name, reference in profile.features.items():
        if name not in trained_model.contract.categories:
            assert set(reference.edges) <= set(used.get(name, ())), name
