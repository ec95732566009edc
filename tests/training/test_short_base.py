"""A six-month, monthly-term, usage-only export trains with no options, through the same
commands a data scientist runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from features.point_in_time.artifacts import read_training_set
from training.config import load_config
from training.pipeline import train_and_evaluate

pytestmark = pytest.mark.slow


def test_a_six_month_monthly_usage_only_base_trains_with_the_defaults(tmp_path, run_cli):
    data = tmp_path / "export"
    made = run_cli("simulate", "--accounts", "3000", "--start", "2025-01-01", "--end",
                   "2025-06-30", "--seed", "4", "--terms", "monthly", "--usage-only",
                   "--out", data)
    assert made.code == 0, made.err
    assert sorted(p.name for p in data.glob("*.parquet")) == [
        "accounts.parquet", "subscriptions.parquet", "usage_events.parquet"]
    built = run_cli("build", "--data", data)
    assert built.code == 0, built.err
    frame, _ = read_training_set(Path(built.out.strip().splitlines()[-1]))
    assert frame["as_of"].min().date() == dt.date(2025, 2, 1), "four weeks in, not three months"
    assert (frame["term_length_days"] <= 31).all(), "every term is monthly"

    result = train_and_evaluate(frame, load_config())
    assert result.split_config is not None
    assert (result.split_config.test_months, result.split_config.validation_months) == (1, 1)
    cutoff = result.cutoff
    assert len(cutoff.split.train) > 1000 and len(cutoff.split.validation) > 1000
    ev = cutoff.evaluation
    # Monthly terms resolve 7 days after their end: the first cutoff already has labels.
    assert ev.metric("model", "roc_auc") > 0.6
    assert ev.metric("model", "roc_auc") > ev.metric("logistic", "roc_auc")
    assert ev.metric("model", "roc_auc") > ev.metric("health_score", "roc_auc")
    assert result.refit is not None
