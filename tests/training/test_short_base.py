"""A six-month, monthly-term, usage-only export trains with no options."""

from __future__ import annotations

import datetime as dt

import pytest

from features.point_in_time.spec import TrainingSetSpec
from features.point_in_time.training_set import build_training_set
from features.simulator import SimulationConfig, simulate
from features.simulator.config import SegmentsConfig
from features.sources.loading import load_sources
from training.config import load_config
from training.pipeline import train_and_evaluate

pytestmark = pytest.mark.slow


def test_a_six_month_monthly_usage_only_base_trains_with_the_defaults(tmp_path):
    base = SegmentsConfig()
    monthly = SegmentsConfig(**{
        name: getattr(base, name).model_copy(update={"term_months": {1: 1.0}})
        for name in ("smb", "mid_market", "enterprise")})
    data = tmp_path / "export"
    simulate(SimulationConfig(n_accounts=3000, start=dt.date(2025, 1, 1),
                              end=dt.date(2025, 6, 30), seed=4, segments=monthly), data)
    for table in ("tickets", "surveys", "csm_notes"):
        (data / f"{table}.parquet").unlink()
    (data / "dataset.json").unlink()

    frame = build_training_set(load_sources(data), TrainingSetSpec())
    assert frame["as_of"].min().date() == dt.date(2025, 2, 1), "four weeks in, not three months"
    result = train_and_evaluate(frame, load_config())
    assert result.split_config is not None
    assert (result.split_config.test_months, result.split_config.validation_months) == (1, 1)
    cutoff = result.cutoff
    assert len(cutoff.split.train) > 1000 and len(cutoff.split.validation) > 1000
    ev = cutoff.evaluation
    # Monthly terms resolve 7 days after their end: the first cutoff already has labels.
    assert ev.metric("model", "roc_auc") > 0.6
    assert ev.metric("model", "roc_auc") > ev.metric("logistic", "roc_auc")
