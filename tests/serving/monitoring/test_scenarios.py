"""Monitoring end to end on simulated history: a model trained in the past scores the
months after, and each run is judged as `churnlens score` judges it.

The setting is bench/monitor.py's (2,000 accounts, seed 3, trained at 2024-10-01): on a
stationary base twelve monthly runs raise no "retrain"; on the same base with a product
change from 2025-02-01 (every account's logins, minutes and feature use at 40%) the first
run after it says "retrain", and a model retrained at 2026-01-01 ranks that month's
accounts better than the old one, judged on the same renewals as they resolved.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from features.point_in_time.spec import TrainingSetSpec
from features.point_in_time.training_set import build_training_set
from features.simulator import SimulationConfig, simulate
from features.simulator.config import DriftConfig
from features.sources.loading import load_sources
from serving.batch import Shadow, run_batch
from serving.monitoring.monitor import RunJudgement, judge_runs
from serving.monitoring.verdict import RETRAIN
from serving.risk import Bands
from serving.store.score_store import ScoreStore
from training.config import load_config
from training.model import ChurnRiskModel
from training.pipeline import train_and_evaluate
from training.splits import as_known_at

pytestmark = pytest.mark.slow

TRAINED_AT, CHANGE, RETRAINED_AT = dt.date(2024, 10, 1), dt.date(2025, 2, 1), dt.date(2026, 1, 1)


def months(first: dt.date, count: int) -> list[dt.date]:
    return [(pd.Timestamp(first) + pd.DateOffset(months=k)).date() for k in range(count)]


def history(tmp_path, drift: DriftConfig):
    config = SimulationConfig(n_accounts=2000, start=dt.date(2023, 1, 1),
                              end=dt.date(2026, 6, 30), seed=3, drift=drift)
    simulate(config, tmp_path / "sources")
    sources = load_sources(tmp_path / "sources")
    frame = build_training_set(sources, TrainingSetSpec())
    return sources, frame


def trained(frame: pd.DataFrame, when: dt.date) -> ChurnRiskModel:
    return train_and_evaluate(as_known_at(frame, pd.Timestamp(when, tz="UTC")),
                              load_config()).model


def replay(sources, model, store, dates, shadow=None) -> list[RunJudgement]:
    judged = []
    for day in dates:
        run_id = run_batch(sources, model, "1", store, day, Bands(), shadow=shadow).run_id
        run, _ = store.position(run_id)
        # from what the store keeps of the run alone: no registry, no profile given
        judged += judge_runs(store, [run], sources, lambda _: None, Bands())
    return judged


def test_twelve_stationary_months_raise_no_retrain(tmp_path):
    sources, frame = history(tmp_path, DriftConfig())
    model = trained(frame, TRAINED_AT)
    with ScoreStore(f"sqlite:///{tmp_path}/scores.db") as store:
        judged = replay(sources, model, store, months(TRAINED_AT, 12))
    verdicts = [j.verdict.level for j in judged]
    assert RETRAIN not in verdicts, [(j.run.as_of, j.verdict.reasons) for j in judged]
    assert all(j.drift is not None and j.realised.resolved > 0 for j in judged)


def test_a_product_change_is_caught_and_a_retrained_model_restores_the_ranking(tmp_path):
    sources, frame = history(tmp_path, DriftConfig(from_date=CHANGE, share=1.0,
                                                   usage_factor=0.4))
    model = trained(frame, TRAINED_AT)
    with ScoreStore(f"sqlite:///{tmp_path}/scores.db") as store:
        before = replay(sources, model, store, [CHANGE])
        after = replay(sources, model, store, months(dt.date(2025, 3, 1), 2))
        assert before[0].verdict.level != RETRAIN  # its features end the day before
        assert after[0].verdict.level == RETRAIN, after[0].verdict.reasons
        assert any("minutes_per_active_user_28d" in r for r in after[0].verdict.reasons)

        fresh = trained(frame, RETRAINED_AT)
        [run] = replay(sources, model, store, [RETRAINED_AT], shadow=Shadow(fresh, "2"))
    old, new = run.realised, run.shadow["2"]
    assert old.resolved == new.resolved > 500
    assert new.metrics["roc_auc"] - old.metrics["roc_auc"] >= 0.01
    # the old model reads the change as risk; the retrained one does not
    assert old.expected_churn - old.observed_churn > new.expected_churn - new.observed_churn
