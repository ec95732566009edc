"""A short history keeps its snapshots: partial long windows, said in a warning."""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd

from features.point_in_time.spec import TrainingSetSpec
from features.point_in_time.training_set import build_training_set, default_start
from features.simulator import SimulationConfig, simulate
from features.sources.loading import load_sources


def _sources(tmp_path, start: dt.date, end: dt.date):
    simulate(SimulationConfig(n_accounts=80, start=start, end=end, seed=2), tmp_path / "s")
    return load_sources(tmp_path / "s")


def test_six_months_of_history_start_after_four_weeks_with_a_warning(tmp_path, caplog):
    sources = _sources(tmp_path, dt.date(2025, 1, 1), dt.date(2025, 6, 30))
    with caplog.at_level(logging.WARNING):
        start = default_start(sources)
    assert start == sources.history_start() + pd.Timedelta(days=28)
    assert "history is short" in caplog.text and "--start 2025-04-01" in caplog.text
    frame = build_training_set(sources, TrainingSetSpec())
    # Monthly snapshots from February: five of six months kept, not three.
    assert sorted({d.date() for d in frame["as_of"]}) == [
        dt.date(2025, m, 1) for m in range(2, 7)]


def test_a_long_history_still_waits_for_full_windows(tmp_path, caplog):
    sources = _sources(tmp_path, dt.date(2024, 1, 1), dt.date(2025, 6, 30))
    with caplog.at_level(logging.WARNING):
        start = default_start(sources)
    assert start == max(sources.subscriptions["start_date"].min(),
                        sources.history_start() + pd.Timedelta(days=90))
    assert "history is short" not in caplog.text
