"""Drift of a run against a hand-built reference profile: PSI, spread, status, missing
jumps, new categories and band shares."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from serving.monitoring.counts import RunCounts, run_counts
from serving.monitoring.drift import DRIFTED, SHIFTED, STABLE, judge_drift, missing_jumped
from training.profile import CATEGORICAL, NUMERIC, Distribution, ReferenceProfile
from training.psi import no_drift_bound, psi


def profile(natural: float = 0.0) -> ReferenceProfile:
    return ReferenceProfile(
        rows=10_000, window=("2024-01-01", "2024-06-01"),
        features={
            "logins": Distribution(NUMERIC, (0.25, 0.25, 0.25, 0.25, 0.0), edges=(1, 2, 3),
                                   natural=natural),
            "minutes": Distribution(NUMERIC, (0.5, 0.5, 0.0), edges=(10.0,)),
            "plan": Distribution(CATEGORICAL, (0.6, 0.4, 0.0, 0.0), categories=("basic", "pro")),
        },
        importance={"logins": 0.9, "minutes": 0.5, "plan": 0.1},
        score=Distribution(NUMERIC, (0.5, 0.5, 0.0), edges=(0.1,)), score_rows=10_000,
        score_percentiles=tuple(np.linspace(0.0, 0.5, 101)), mean_probability=0.1,
        churn_rate=0.1)


def counts(logins, minutes, plan, score, rows=1000, new=None) -> RunCounts:
    return RunCounts(rows, {"logins": logins, "minutes": minutes, "plan": plan}, score, 0.12,
                     new or {})


def test_psi_and_status_by_hand():
    run = counts((250, 250, 250, 250, 0), (100, 900, 0), (600, 400, 0, 0), (500, 500, 0))
    report = judge_drift(profile(), run, 0.3, 0.15, {"high": 100, "medium": 300, "low": 600})
    by_name = {f.name: f for f in report.features}
    assert by_name["logins"].psi == pytest.approx(0.0, abs=1e-6)
    assert by_name["logins"].status == STABLE
    expected = psi(np.array([5000, 5000]), np.array([100, 900]))
    assert by_name["minutes"].psi == pytest.approx(expected)
    assert by_name["minutes"].spread == pytest.approx(no_drift_bound(10_000, 1000, 2))
    assert by_name["minutes"].status == DRIFTED  # 0.88 >= 0.25 and beyond its spread
    assert report.features[0].name == "minutes"  # largest PSI first
    assert by_name["minutes"].importance_rank == 2
    assert report.drifted(top=1) == [] and [f.name for f in report.drifted(top=2)] == ["minutes"]


def test_a_moderate_move_is_a_shift_and_the_natural_swing_raises_the_spread():
    run = counts((450, 250, 150, 150, 0), (500, 500, 0), (600, 400, 0, 0), (500, 500, 0))
    value = judge_drift(profile(), run, 0.3, 0.15, {}).features[0]
    assert value.name == "logins" and value.status == SHIFTED
    assert 0.10 <= value.psi < 0.25
    calm = judge_drift(profile(natural=0.3), run, 0.3, 0.15, {}).features[0]
    assert calm.status == STABLE and calm.spread == pytest.approx(value.spread + 0.3)


def test_missing_jumps_and_new_categories():
    run = counts((200, 200, 200, 200, 200), (500, 500, 0), (500, 300, 0, 200), (500, 500, 0),
                 new={"plan": {"enterprise": 200}})
    by_name = {f.name: f for f in judge_drift(profile(), run, 0.3, 0.15, {}).features}
    assert by_name["logins"].missing_jump and by_name["logins"].missing_now == 0.2
    assert not by_name["minutes"].missing_jump
    assert by_name["plan"].new_categories == {"enterprise": 200}
    assert missing_jumped(0.0, 0.04, 10_000) is False  # under 5 points
    assert missing_jumped(0.30, 0.36, 50) is False  # within 3 standard errors of 50 rows


def test_band_shares_now_and_in_the_reference():
    run = counts((250,) * 4 + (0,), (500, 500, 0), (600, 400, 0, 0), (500, 500, 0))
    score = judge_drift(profile(), run, 0.3, 0.15, {"high": 100, "medium": 300, "low": 600}).score
    assert score.bands == {"high": 0.1, "medium": 0.3, "low": 0.6}
    # reference scores run evenly from 0 to 0.5
    assert score.reference_bands["high"] == pytest.approx(0.4)
    assert score.reference_bands["medium"] == pytest.approx(0.3)
    assert score.reference_bands["low"] == pytest.approx(0.3)
    assert score.psi == pytest.approx(0.0, abs=1e-6) and score.reference_churn_rate == 0.1


def test_run_counts_from_a_scoring_frame():
    frame = pd.DataFrame({"logins": [0.5, 1.5, 2.5, 3.5, None],
                          "minutes": [5.0, 15.0, 15.0, 15.0, 15.0],
                          "plan": ["basic", "pro", "enterprise", "enterprise", None]})
    run = run_counts(profile(), frame, np.array([0.05, 0.2, 0.2, 0.2, 0.2]))
    assert run.rows == 5
    assert run.features["logins"] == (1, 1, 1, 1, 1)
    assert run.features["plan"] == (1, 1, 1, 2)
    assert run.new_categories == {"plan": {"enterprise": 2}}
    assert run.score == (1, 4, 0)
    assert run.mean_probability == pytest.approx(0.17)
    assert RunCounts.from_dict(run.to_dict()) == run
    assert not math.isnan(run.mean_probability)


def test_a_small_book_from_the_same_population_does_not_cry_wolf():
    deciles = Distribution(NUMERIC, (0.1,) * 10 + (0.0,), edges=tuple(range(1, 10)))
    reference = dataclasses.replace(profile(), features={"logins": deciles})
    rng = np.random.default_rng(0)
    small = (*(int(c) for c in rng.multinomial(60, [0.1] * 10)), 0)
    run = RunCounts(60, {"logins": small}, (30, 30, 0), 0.1, {})
    [logins] = judge_drift(reference, run, 0.3, 0.15, {}).features
    assert logins.psi > 0.10  # the rule of thumb alone would call this a shift
    assert logins.status == STABLE and logins.spread > logins.psi
