"""Every rule of the source-data contract, through `churnlens validate`.

Each case breaks one rule of an otherwise valid tiny customer base and checks that the
command fails with a message naming the table, the column, example rows and the fix,
and that nothing in the data directory changed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest


def _set(table: str, column: str, row: int, value: object) -> Callable[[dict], None]:
    def edit(tables: dict[str, pd.DataFrame]) -> None:
        tables[table].loc[row, column] = value
    return edit


def _drop_column(table: str, column: str) -> Callable[[dict], None]:
    def edit(tables: dict[str, pd.DataFrame]) -> None:
        tables[table] = tables[table].drop(columns=[column])
    return edit


def _drop_table(table: str) -> Callable[[dict], None]:
    def edit(tables: dict[str, pd.DataFrame]) -> None:
        del tables[table]
    return edit


def _empty_table(table: str) -> Callable[[dict], None]:
    def edit(tables: dict[str, pd.DataFrame]) -> None:
        tables[table] = tables[table].iloc[0:0]
    return edit


def _duplicate_row(table: str, row: int) -> Callable[[dict], None]:
    def edit(tables: dict[str, pd.DataFrame]) -> None:
        tables[table] = pd.concat([tables[table], tables[table].iloc[[row]]], ignore_index=True)
    return edit


# (id, edit, fragments the message must contain)
CASES = [
    ("missing-mandatory-table", _drop_table("subscriptions"),
     ["subscriptions: the mandatory table is missing", "provide subscriptions.csv"]),
    ("missing-required-column", _drop_column("tickets", "opened_at"),
     ["tickets.opened_at: required column(s) missing", "add the column(s) opened_at"]),
    ("unparseable-date", _set("usage_events", "timestamp", 2, "03/04/2023"),
     ["usage_events.timestamp: values that are not a valid timestamp", "row 3: '03/04/2023'",
      "ISO 8601"]),
    ("year-out-of-range", _set("usage_events", "timestamp", 1, "-3"),
     ["usage_events.timestamp: values that are not a valid timestamp", "row 2: '-3'"]),
    ("unparseable-number", _set("subscriptions", "arr", 1, "$1,500"),
     ["subscriptions.arr: values that are not a valid float", "row 2: '$1,500'",
      "no currency signs"]),
    ("fractional-seats", _set("subscriptions", "seats", 0, "2.5"),
     ["subscriptions.seats: values that are not a valid int", "row 1: '2.5'"]),
    ("bad-boolean", _set("tickets", "escalated", 1, "maybe"),
     ["tickets.escalated", "row 2: 'maybe'", "true/false"]),
    ("duplicate-primary-key", _duplicate_row("subscriptions", 2),
     ["subscriptions.subscription_id: duplicate primary keys", "'S3' on rows 3, 5"]),
    ("end-before-start", _set("subscriptions", "end_date", 3, "2023-05-01"),
     ["subscriptions.end_date: end_date on or before start_date", "row 4:",
      "each term must end after it starts"]),
    ("end-equals-start", _set("subscriptions", "end_date", 0, "2023-01-01"),
     ["subscriptions.end_date: end_date on or before start_date", "row 1:"]),
    ("negative-arr", _set("subscriptions", "arr", 2, "-5"),
     ["subscriptions.arr: values below 0", "row 3: -5.0", "arr must be at least 0"]),
    ("nps-out-of-range", _set("surveys", "score", 0, "11"),
     ["surveys.score: nps scores outside 0-10", "row 1:", "score=11"]),
    ("csat-out-of-range", _set("surveys", "score", 1, "0"),
     ["surveys.score: csat scores outside 1-5", "row 2:"]),
    ("unknown-survey-kind", _set("surveys", "kind", 2, "enps"),
     ["surveys.kind: values outside the allowed set", "row 3: 'enps'", "nps, csat, ces"]),
    ("ticket-closed-before-opened", _set("tickets", "closed_at", 0, "2023-04-30"),
     ["tickets.closed_at: closed_at before opened_at", "row 1:",
      "a ticket cannot close before it opens"]),
    ("ticket-csat-out-of-range", _set("tickets", "csat", 0, "7"),
     ["tickets.csat: values above 5", "row 1: 7.0"]),
    ("unknown-account", _set("usage_events", "account_id", 4, "A404"),
     ["usage_events.account_id: records for unknown accounts", "row 5: 'A404'",
      "add the accounts to the accounts table"]),
    ("future-record", _set("surveys", "responded_at", 1, "2025-01-01T00:00:00Z"),
     ["surveys.responded_at: records dated after the data's end (2024-12-31)", "row 2:",
      "--data-end"]),
    ("empty-mandatory-table", _empty_table("accounts"),
     ["accounts: the table has no rows", "(it is mandatory)"]),
    ("empty-optional-table", _empty_table("csm_notes"),
     ["csm_notes: the table has no rows", "remove the file"]),
    ("missing-id", _set("accounts", "account_id", 1, None),
     ["accounts.account_id: empty values", "row 2:"]),
    ("bad-sentiment", _set("csm_notes", "sentiment", 0, "blue"),
     ["csm_notes.sentiment: values outside the allowed set", "red, yellow, green"]),
]


def _snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in directory.iterdir()}


@pytest.mark.parametrize(("edit", "fragments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_broken_rule_stops_validate_with_an_actionable_message(
        make_sources, run_cli, edit, fragments):
    data = make_sources(edit)
    before = _snapshot(data)
    result = run_cli("validate", data)
    assert result.code == 3, result.err
    assert "breaks the data contract" in result.err
    assert "nothing was written" in result.err
    for fragment in fragments:
        assert fragment in result.err, f"{fragment!r} not in:\n{result.err}"
    assert "fix:" in result.err
    assert _snapshot(data) == before
    assert result.out == ""


def test_examples_are_capped_at_five_rows_and_the_count_is_given(make_sources, run_cli):
    def many_bad_dates(tables: dict[str, pd.DataFrame]) -> None:
        usage = tables["usage_events"]
        tables["usage_events"] = pd.concat([usage] * 4, ignore_index=True)
        tables["usage_events"]["timestamp"] = "not a date"

    result = run_cli("validate", make_sources(many_bad_dates))
    assert result.code == 3
    assert "(20 rows)" in result.err
    assert result.err.count("e.g. row") == 5


def test_all_problems_are_reported_together(make_sources, run_cli):
    def two_problems(tables: dict[str, pd.DataFrame]) -> None:
        tables["subscriptions"].loc[0, "arr"] = "-1"
        tables["surveys"].loc[0, "score"] = "12"

    result = run_cli("validate", make_sources(two_problems))
    assert "(2 problems)" in result.err
    assert "subscriptions.arr" in result.err and "surveys.score" in result.err


def test_missing_directory_is_a_clear_error(run_cli, tmp_path):
    result = run_cli("validate", tmp_path / "nowhere")
    assert result.code == 2
    assert "does not exist" in result.err and "churnlens simulate" in result.err


def test_both_csv_and_parquet_of_one_table_is_ambiguous(make_sources, run_cli):
    data = make_sources()
    pd.read_csv(data / "tickets.csv", dtype=str).to_parquet(data / "tickets.parquet")
    result = run_cli("validate", data)
    assert result.code == 2
    assert "holds both tickets." in result.err and "keep one of them" in result.err


def test_region_NA_is_north_america_not_missing(make_sources):
    from features.sources.loading import load_sources

    sources = load_sources(make_sources())
    assert sorted(sources.accounts["region"].dropna().unique()) == ["EMEA", "NA"]


def test_accounts_without_usage_are_a_warning_not_an_error(make_sources, run_cli):
    def silent_a2(tables: dict[str, pd.DataFrame]) -> None:
        usage = tables["usage_events"]
        tables["usage_events"] = usage[usage["account_id"] != "A2"]

    result = run_cli("validate", make_sources(silent_a2))
    assert result.code == 0, result.err
    assert "1 accounts have no usage at all (e.g. A2)" in result.out


def test_optional_tables_may_be_absent(make_sources, run_cli):
    def only_mandatory(tables: dict[str, pd.DataFrame]) -> None:
        for name in ["usage_events", "tickets", "surveys", "csm_notes"]:
            del tables[name]

    result = run_cli("validate", make_sources(only_mandatory))
    assert result.code == 0, result.err
    assert "usage_events" not in result.out


def test_stated_data_end_can_be_overridden(make_sources, run_cli):
    data = make_sources(_set("surveys", "responded_at", 1, "2025-01-01"))
    assert run_cli("validate", data).code == 3
    assert run_cli("validate", data, "--data-end", "2025-01-31").code == 0


def test_data_end_is_inferred_when_not_stated(make_sources):
    from features.sources.loading import load_sources

    sources = load_sources(make_sources(data_end=None))
    assert sources.data_end == pd.Timestamp("2024-03-01", tz="UTC")
