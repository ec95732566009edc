"""Batch scoring reads only the usage it can see and scores exactly as with every row."""

from __future__ import annotations

import datetime as dt

import pytest

from features.errors import ChurnlensError
from features.point_in_time.evidence import USAGE_DAYS
from features.point_in_time.families import usage
from features.point_in_time.families.usage_rows import LOOKBACK_DAYS
from features.sources.loading import load_sources
from serving.batch import (
    ScoredPart,
    default_as_of,
    monthly_history,
    score_part,
    scoring_reach,
)
from serving.risk import Bands


def test_the_reach_covers_every_usage_window_and_the_evidence():
    """A longer usage window or more weeks of evidence must widen what scoring reads."""
    longest = max(*usage.WINDOWS, usage.MONTH * 2, usage.QUARTER)  # incl. the prior 28 days
    assert longest <= LOOKBACK_DAYS <= scoring_reach(None).days
    assert scoring_reach(None).days >= USAGE_DAYS


@pytest.mark.slow
@pytest.mark.parametrize("days_before_default", [0, 45])
def test_scores_from_the_reach_equal_scores_from_every_row(simulated_sources, trained_model,
                                                            days_before_default):
    as_of = default_as_of(simulated_sources) - dt.timedelta(days=days_before_default)
    trimmed = load_sources(simulated_sources.location, usage_reach=scoring_reach(
        as_of if days_before_default else None))
    assert trimmed.usage_from is not None
    assert len(trimmed.tables["usage_events"]) < len(simulated_sources.tables["usage_events"])
    _assert_same_scores(score_part(trimmed, trained_model, "1", as_of, Bands()),
                        score_part(simulated_sources, trained_model, "1", as_of, Bands()))


def _assert_same_scores(got: ScoredPart, expected: ScoredPart) -> None:
    assert got.scored.scores == expected.scored.scores and got.scored.scores
    assert got.scored.features == expected.scored.features
    assert got.scored.facts == expected.scored.facts
    assert got.profiled.equals(expected.profiled)  # what the run's counts are made of
    assert (got.probability == expected.probability).all()


@pytest.mark.slow
def test_scoring_refuses_an_as_of_before_the_usage_read(simulated_sources, trained_model):
    as_of = default_as_of(simulated_sources)
    trimmed = load_sources(simulated_sources.location, usage_reach=scoring_reach(as_of))
    with pytest.raises(ChurnlensError, match="needs it from"):
        score_part(trimmed, trained_model, "1", as_of - dt.timedelta(days=1), Bands())


@pytest.mark.slow
def test_churnlens_score_says_which_usage_it_read(simulated_sources, trained_model, run_cli,
                                                  monkeypatch):
    monkeypatch.setattr("training.tracking.mlflow_client", lambda: None)
    monkeypatch.setattr("training.registry.load_version", lambda client: (trained_model, "1"))
    result = run_cli("score", "--data", simulated_sources.location)
    assert result.code == 0, result.err
    assert "read usage from" in result.err
    assert "older rows were not checked" in result.err


def test_the_history_of_a_new_workspace_is_the_months_before_as_of():
    assert monthly_history(dt.date(2026, 1, 15), 3) == [
        dt.date(2025, 11, 1), dt.date(2025, 12, 1), dt.date(2026, 1, 1)]
    assert monthly_history(dt.date(2026, 1, 1), 2) == [dt.date(2025, 11, 1),
                                                       dt.date(2025, 12, 1)]
    assert monthly_history(dt.date(2026, 3, 31), 0) == []


@pytest.mark.slow
def test_a_reach_for_history_scores_its_earliest_month_as_every_row_does(simulated_sources,
                                                                         trained_model):
    earliest = monthly_history(default_as_of(simulated_sources), 3)[0]
    trimmed = load_sources(simulated_sources.location, usage_reach=scoring_reach(None, 3))
    _assert_same_scores(score_part(trimmed, trained_model, "1", earliest, Bands()),
                        score_part(simulated_sources, trained_model, "1", earliest, Bands()))
