"""Realised performance of a tiny hand-built run: metrics by hand, and the flip from
provisional to final exactly when the last scored term resolves."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from books import book

from features.point_in_time.spine import labels_at
from serving.monitoring.counts import RunCounts
from serving.monitoring.monitor import RunJudgement, judge_run
from serving.monitoring.realised import FINAL, PENDING, PROVISIONAL
from serving.risk import Bands
from serving.store.monitoring import ShadowScore
from training.profile import NUMERIC, Distribution, ReferenceProfile

AS_OF = dt.date(2024, 6, 1)
# Four annual terms end on 2025-01-01 (grace 30 days: decided at 2025-01-31 00:00, so by
# data that covers 2025-01-30); e's two-year term ends on 2025-06-01 (decided by data
# covering 2025-06-30). b, c and e renew; a and d churn.
TERMS = [("a", "2024-01-01", "2025-01-01"), ("b", "2024-01-01", "2025-01-01"),
         ("b", "2025-01-01", "2026-01-01"), ("c", "2024-01-01", "2025-01-01"),
         ("c", "2025-01-10", "2026-01-10"), ("d", "2024-01-01", "2025-01-01"),
         ("e", "2023-06-01", "2025-06-01"), ("e", "2025-06-01", "2026-06-01")]
PROBABILITY = {"a": 0.9, "b": 0.2, "c": 0.6, "d": 0.4, "e": 0.3}


def subscriptions() -> pd.DataFrame:
    return pd.DataFrame({
        "subscription_id": [f"S{i}" for i in range(len(TERMS))],
        "account_id": [t[0] for t in TERMS],
        "start_date": pd.to_datetime([t[1] for t in TERMS], utc=True),
        "end_date": pd.to_datetime([t[2] for t in TERMS], utc=True),
        "arr": 1000.0,
    })


def judged(store, known_through: str) -> RunJudgement:
    run_id = store.write_run("7", AS_OF, book(AS_OF, PROBABILITY), shadow=[
        ShadowScore(a, "8", p) for a, p in {"a": 0.7, "b": 0.1, "c": 0.2, "d": 0.8,
                                            "e": 0.1}.items()])
    run, _ = store.position(run_id)
    outcomes = labels_at(subscriptions(), pd.Series(list("abcde")), AS_OF,
                            pd.Timestamp(known_through, tz="UTC"))
    return judge_run(store, run, lambda _: None, outcomes, Bands())


def test_outcomes_are_the_training_label(store):
    outcomes = labels_at(subscriptions(), pd.Series(list("abcde")), AS_OF,
                            pd.Timestamp("2025-02-15", tz="UTC"))
    assert outcomes.isna().to_dict() == {"a": False, "b": False, "c": False, "d": False,
                                         "e": True}
    assert outcomes.dropna().to_dict() == {"a": True, "b": False, "c": False, "d": True}


def test_nothing_resolved_is_pending(store):
    result = judged(store, "2025-01-29").realised
    assert result.status == PENDING and result.resolved == 0 and result.metrics == {}


def test_provisional_metrics_by_hand(store):
    result = judged(store, "2025-02-15").realised
    assert result.status == PROVISIONAL and (result.resolved, result.rows) == (4, 5)
    # churned a (0.9), d (0.4) against renewed b (0.2), c (0.6): 3 of 4 pairs ordered
    assert result.metrics["roc_auc"] == pytest.approx(0.75)
    assert result.metrics["brier"] == pytest.approx((0.01 + 0.04 + 0.36 + 0.36) / 4)
    assert result.observed_churn == pytest.approx(0.5)
    assert result.expected_churn == pytest.approx((0.9 + 0.2 + 0.6 + 0.4) / 4)
    z = (2 - 2.1) / math.sqrt(0.09 + 0.16 + 0.24 + 0.24)
    assert result.calibration_z == pytest.approx(z)
    bands = {b.band: b for b in result.bands}  # high >= 0.3, medium >= 0.15
    assert (bands["high"].resolved, bands["high"].observed) == (3, pytest.approx(2 / 3))
    assert (bands["medium"].resolved, bands["medium"].observed) == (1, 0.0)


def test_final_exactly_when_the_last_term_resolves(store):
    assert judged(store, "2025-06-29").realised.status == PROVISIONAL
    result = judged(store, "2025-06-30").realised
    assert result.status == FINAL and result.resolved == 5
    # e (0.3) renewed: churned a, d against renewed b, c, e -> 5 of 6 pairs ordered
    assert result.metrics["roc_auc"] == pytest.approx(5 / 6)


def test_the_shadow_is_judged_on_the_same_accounts_and_the_judgement_is_stored(store):
    result = judged(store, "2025-02-15")
    shadow = result.shadow["8"]
    assert shadow.resolved == 4
    # churned a (0.7), d (0.8) against renewed b (0.1), c (0.2): all 4 pairs ordered
    assert shadow.metrics["roc_auc"] == pytest.approx(1.0)
    [stored] = store.monitoring.judgements()
    assert stored.run.id == result.run.id and stored.verdict == result.verdict.level
    again = RunJudgement.from_stored(stored.run, stored.report)
    assert again.realised == result.realised and again.shadow == result.shadow
    assert any("no reference profile" in note for note in again.notes)


def test_a_run_is_judged_with_the_reference_stored_with_it(store):
    reference = ReferenceProfile(
        rows=100, window=("2024-01-01", "2024-05-01"),
        features={"logins": Distribution(NUMERIC, (0.5, 0.5, 0.0), edges=(1.0,))},
        importance={"logins": 1.0}, score=Distribution(NUMERIC, (0.5, 0.5, 0.0), edges=(0.3,)),
        score_rows=100, score_percentiles=tuple(np.linspace(0, 1, 101)), mean_probability=0.5,
        churn_rate=0.1, backtest={"roc_auc": {"mean": 0.8, "std": 0.01, "folds": 3.0}})
    counts = RunCounts(5, {"logins": (5, 0, 0)}, (2, 3, 0), 0.48, {})
    run_id = store.write_run("7", AS_OF, book(AS_OF, PROBABILITY), counts=counts.to_dict(),
                             reference=reference.to_dict())
    run, _ = store.position(run_id)
    outcomes = labels_at(subscriptions(), pd.Series(list("abcde")), AS_OF,
                            pd.Timestamp("2025-02-15", tz="UTC"))

    def registry(version):
        raise AssertionError(f"the registry was asked for version {version}")

    judged = judge_run(store, run, registry, outcomes, Bands())
    assert judged.drift is not None and judged.drift.features[0].name == "logins"
    assert judged.drift.features[0].psi > 0.25  # every account in the first bin
    assert judged.backtest == reference.backtest
    assert RunJudgement.from_stored(run, store.monitoring.judgements()[0].report).backtest \
        == reference.backtest
