"""The `churnlens validate` summary: counts and retention figures worked out by hand."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from features.analysis.summary import retention_by_period, summarize
from features.point_in_time.terms import term_outcomes
from features.sources.loading import load_sources


def test_retention_of_the_tiny_base_matches_hand_arithmetic(tiny_dir):
    summary = summarize(load_sources(tiny_dir))
    by = {(r.period, r.segment): r for r in summary.retention}
    # 2024 starts with A1 (1,200, renewing in grace), A2 (90,000) and A3 (3,000).
    # A1 ends the year at 1,500.5; A2 and A3 churned during it.
    overall = by[("2024", "all")]
    assert overall.accounts == 3
    assert overall.logo_churn == pytest.approx(2 / 3)
    assert overall.nrr == pytest.approx(1500.5 / 94200)
    assert overall.grr == pytest.approx(1200 / 94200)
    smb = by[("2024", "smb")]
    assert smb.nrr == pytest.approx(1500.5 / 4200)
    assert by[("2023", "all")].accounts == 1  # only A1 paid on 2023-01-01
    assert summary.terms == {"terms": 4, "renewed": 1, "churned": 2, "unresolved": 1}
    assert summary.segments.to_dict() == {"enterprise": 1, "smb": 2}


def test_validate_prints_the_summary_on_good_data(tiny_dir, run_cli):
    result = run_cli("validate", "--data", tiny_dir)
    assert result.code == 0, result.err
    out = result.out
    assert "valid against the source-data contract" in out
    assert re.search(r"usage_events\s+5 rows\s+2023-01-05 \.\. 2024-02-01", out)
    assert "Subscription terms: 4 (1 renewed, 2 churned, 1 not yet resolved)" in out
    assert re.search(r"2024\s+all\s+3\s+66\.7%\s+1\.3%\s+1\.6%", out)


def test_validate_reads_the_workspace_sources_by_default(tiny_dir, run_cli, tmp_path):
    home = tmp_path / "home"
    (home / "sources").parent.mkdir(parents=True)
    tiny_dir.rename(home / "sources")
    result = run_cli("--home", home, "validate")
    assert result.code == 0, result.err
    assert str(home / "sources") in result.out


def test_data_given_twice_differently_is_refused(tiny_dir, run_cli, tmp_path):
    result = run_cli("validate", tiny_dir, "--data", tmp_path / "other")
    assert result.code == 2
    assert "Give the data location once" in result.err


def test_less_than_a_year_of_data_reports_no_retention(tiny_dir):
    sources = load_sources(tiny_dir)
    terms = term_outcomes(sources.subscriptions, sources.data_end)
    segment = sources.accounts.set_index("account_id")["segment"].astype("str")
    short_end = pd.Timestamp("2023-09-30", tz="UTC")
    assert retention_by_period(terms, segment, short_end) == []
    assert [r.period for r in retention_by_period(terms, segment, sources.data_end)][:1] == [
        "2023"]


def test_retention_starts_with_the_activity_history_not_older_contracts(make_sources):
    def edit(tables: dict[str, pd.DataFrame]) -> None:
        old = pd.DataFrame({"subscription_id": ["S0"], "account_id": ["A2"],
                            "start_date": ["2021-03-01"], "end_date": ["2023-03-01"],
                            "arr": ["90000"], "seats": ["120"], "plan": ["enterprise"],
                            "auto_renew": ["no"]})
        tables["subscriptions"] = pd.concat([old, tables["subscriptions"]],
                                            ignore_index=True)

    sources = load_sources(make_sources(edit))
    # usage starts 2023-01-05: years before 2023 hold only A2's old contract
    assert sources.history_start() == pd.Timestamp("2023-01-05 00:00", tz="UTC")
    assert {r.period for r in summarize(sources).retention} == {"2023", "2024"}
    terms = term_outcomes(sources.subscriptions, sources.data_end)
    segment = sources.accounts.set_index("account_id")["segment"].astype("str")
    assert [r.period for r in retention_by_period(terms, segment, sources.data_end)][:1] == [
        "2022"]  # without the history start, the contract's years would count
