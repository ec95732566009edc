"""On simulated data the spine's labels agree with the simulator's hidden truth."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from features.point_in_time.spec import TrainingSetSpec
from features.point_in_time.training_set import build_training_set
from features.simulator import SimulationConfig, simulate
from features.sources.loading import load_sources


def test_churn_share_is_within_two_points_of_the_simulators_truth(tmp_path):
    config = SimulationConfig(n_accounts=200, start=dt.date(2023, 1, 1),
                              end=dt.date(2025, 6, 30), seed=3)
    simulate(config, tmp_path / "sim")
    frame = build_training_set(load_sources(tmp_path / "sim"), TrainingSetSpec())
    truth = pd.read_parquet(tmp_path / "sim" / "_truth" / "terms.parquet")
    rows = frame.merge(truth[["subscription_id", "churned", "p_churn"]],
                       on="subscription_id", how="left", suffixes=("", "_truth"))
    labelled = rows[rows["churned"].notna()]
    assert len(labelled) > 1000 and labelled["churned_truth"].notna().all()
    ours = labelled["churned"].astype(float).mean()
    assert abs(ours - labelled["churned_truth"].astype(float).mean()) <= 0.02
    assert abs(ours - labelled["p_churn"].mean()) <= 0.02
