"""The backtest replays the rules in memory and scores them against the terms' outcomes."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from engine_support import HIGH, account, month, run

from serving.alerts.backtest import ANY_RULE, precision, replay, table_lines

# a turns high in run 1, b in run 2; c is a detractor in run 1 only; d stays quiet.
RUNS = [
    run(1, month(1), account("a", 0.40), account("b", 0.05), account("c", 0.05, nps=3),
        account("d", 0.05)),
    run(2, month(2), account("a", 0.45), account("b", 0.40), account("c", 0.05),
        account("d", 0.05)),
    run(3, month(3), account("a", 0.45), account("b", 0.40), account("c", 0.05),
        account("d", 0.05)),
]
# The label each run would give: c's term is open after run 1.
LABELS = {month(1): {"a": True, "b": False, "c": True, "d": False},
          month(2): {"a": True, "b": False, "c": None, "d": False},
          month(3): {"a": True, "b": False, "c": None, "d": False}}


def outcomes(as_of: dt.date, accounts: pd.Series) -> pd.Series:
    return pd.Series([LABELS[as_of][a] for a in accounts], index=list(accounts),
                     dtype="boolean")


def test_replay_fires_what_live_evaluation_would_without_a_store():
    fired = replay(HIGH, RUNS)
    assert [(a.rule, a.account_id, a.first_run_id) for a in fired] == [
        ("high", "a", 1), ("detractor", "c", 1), ("high", "b", 2)]
    assert fired[1].resolved_as_of == month(2)  # the detractor stopped holding for 1 run
    assert fired[0].resolved_as_of is None


def test_precision_counts_each_alert_by_the_outcome_of_the_run_that_raised_it():
    rows, base = precision(HIGH, RUNS, replay(HIGH, RUNS), outcomes)
    assert base == pytest.approx(4 / 10)  # 4 churned of 10 known account-runs
    by_rule = {r.rule: r for r in rows}
    assert list(by_rule) == ["high", "detractor", ANY_RULE]
    high = by_rule["high"]
    assert (high.alerts, high.accounts, high.resolved, high.churned) == (2, 2, 2, 1)
    assert high.lift == pytest.approx(0.5 / 0.4)
    # renewal 2026-12-31: 729 days after 1 Jan 2025, 698 after 1 Feb 2025
    assert high.median_lead_days == pytest.approx((729 + 698) / 2)
    weeks = ((month(3) - month(1)).days + 30) / 7
    assert high.per_csm_week == pytest.approx(2 / 1 / weeks)  # one CSM
    assert by_rule["detractor"].lift == pytest.approx(1.0 / 0.4)
    every = by_rule[ANY_RULE]
    assert (every.alerts, every.churned, every.resolved) == (3, 2, 3)
    assert every.lift == pytest.approx((2 / 3) / 0.4)


def test_an_alert_whose_term_is_still_open_counts_as_fired_but_not_as_known():
    late = [*RUNS, run(4, month(4), account("a", 0.45), account("b", 0.40),
                        account("c", 0.05, nps=2), account("d", 0.05))]
    labels = {**LABELS, month(4): {"a": True, "b": False, "c": None, "d": False}}

    def open_outcomes(as_of: dt.date, accounts: pd.Series) -> pd.Series:
        return pd.Series([labels[as_of][a] for a in accounts], index=list(accounts),
                         dtype="boolean")

    rows, _ = precision(HIGH, late, replay(HIGH, late), open_outcomes)
    detractor = next(r for r in rows if r.rule == "detractor")
    assert (detractor.alerts, detractor.resolved, detractor.churned) == (2, 1, 1)


def test_the_table_prints_every_rule_and_the_base_rate():
    rows, base = precision(HIGH, RUNS, replay(HIGH, RUNS), outcomes)
    lines = table_lines(rows, base, RUNS)
    assert "base churn rate 40.0%" in lines[0] and "3 runs" in lines[0]
    assert lines[2].split()[:2] == ["high", "2"]
    assert "1.2x" in lines[2] and "2.5x" in lines[3]
    assert lines[4].startswith(ANY_RULE)

