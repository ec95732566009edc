"""Reading Parquet usage for scoring only as far back as scoring looks: same features and
evidence as reading every row, and validation still reads and checks every row."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pandas as pd
import pytest
from random_sources import AS_OF, random_tables
from tiny_sources import tiny_tables, write_tables

from features.errors import ChurnlensError, DataContractError
from features.point_in_time.build import resolve_key_features
from features.point_in_time.evidence import USAGE_DAYS, evidence_at
from features.point_in_time.families.usage_rows import LOOKBACK_DAYS
from features.point_in_time.training_set import build_scoring_frame
from features.sources.loading import Sources, load_sources
from features.sources.usage_reach import UsageReach

DAYS = max(LOOKBACK_DAYS, USAGE_DAYS)  # what a scoring run reads (serving.batch)


def _usage_with_old_last_uses() -> pd.DataFrame:
    """A1's usage before and after the reach of scoring on 2025-01-01 (from 2024-10-03)."""
    rows = [
        # account, timestamp, event_type, user_id, quantity
        ("A1", "2023-01-05T10:00:00Z", "login", "u1", 2),  # the earliest record
        ("A1", "2024-02-01", "report_created", None, 4),
        ("A1", "2024-03-15T09:00:00Z", "report_created", None, 2),  # last use, far back
        ("A1", "2024-03-15T17:00:00Z", "report_created", "u1", 1),
        ("A1", "2024-06-01", "report_created", None, 0),  # later, but not a use
        ("A1", "2024-09-01", "export", "u2", 3),
        ("A1", "2024-10-02T23:59:00Z", "dashboard_viewed", "u1", 1),  # a minute before
        ("A1", "2024-10-03T00:00:00Z", "dashboard_viewed", "u1", 1),  # the first moment
        ("A1", "2024-11-02", "login", "u2", 1),
        ("A1", "2024-12-01", "export", "u2", 1),
        ("A1", "2024-12-20", "login", "u1", 1),
        ("A1", "2024-12-20", "session_minutes", "u1", 30),
        ("A1", "2024-12-30T23:00:00Z", "api_call", None, None),  # no quantity: one call
        ("A2", "2023-03-04", "login", "u9", None),
        ("A3", "2023-07-01", "login", "u3", 1),
    ]
    frame = pd.DataFrame(rows, columns=["account_id", "timestamp", "event_type", "user_id",
                                        "quantity"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    return frame


def _sources(tmp_path: Path, usage: pd.DataFrame) -> Path:
    tables = tiny_tables()
    tables["usage_events"] = usage
    return write_tables(tmp_path / "sources", tables, "parquet")


def _assert_scoring_agrees(full: Sources, trimmed: Sources, as_of: dt.date) -> None:
    keys = resolve_key_features(full)
    pd.testing.assert_frame_equal(build_scoring_frame(trimmed, as_of, keys),
                                  build_scoring_frame(full, as_of, keys))
    ids = sorted(full.accounts["account_id"])
    assert evidence_at(trimmed, as_of, ids) == evidence_at(full, as_of, ids)
    assert trimmed.history_start() == full.history_start()
    assert trimmed.data_end == full.data_end


@pytest.mark.parametrize("as_of", [None, dt.date(2024, 12, 15), dt.date(2024, 10, 20)])
def test_reading_the_reach_scores_as_reading_everything(tmp_path, as_of):
    where = _sources(tmp_path, _usage_with_old_last_uses())
    full = load_sources(where)
    trimmed = load_sources(where, usage_reach=UsageReach(DAYS, as_of))
    day = as_of or dt.date(2025, 1, 1)
    assert trimmed.usage_from == pd.Timestamp(day, tz="UTC") - pd.Timedelta(days=DAYS)
    assert len(trimmed.tables["usage_events"]) < len(full.tables["usage_events"])
    _assert_scoring_agrees(full, trimmed, day)
    frame = build_scoring_frame(trimmed, day, resolve_key_features(full))
    # Only right because the last use, months before the reach, was read.
    assert frame["days_since_report_created_use"].tolist() == [(day - dt.date(2024, 3, 15)).days]


def test_features_and_evidence_refuse_an_as_of_before_the_usage_read(tmp_path):
    where = _sources(tmp_path, _usage_with_old_last_uses())
    trimmed = load_sources(where, usage_reach=UsageReach(DAYS, dt.date(2024, 12, 15)))
    earlier = dt.date(2024, 12, 1)
    with pytest.raises(ChurnlensError, match="features as of 2024-12-01 needs it from"):
        build_scoring_frame(trimmed, earlier)
    with pytest.raises(ChurnlensError, match="usage evidence as of 2024-12-01 needs it"):
        evidence_at(trimmed, earlier, ["A1"])
    build_scoring_frame(trimmed, dt.date(2024, 12, 20))  # a later as_of is covered
    evidence_at(trimmed, dt.date(2024, 12, 20), ["A1"])


def test_reading_the_reach_keeps_rows_after_as_of(tmp_path):
    where = _sources(tmp_path, _usage_with_old_last_uses())
    trimmed = load_sources(where, usage_reach=UsageReach(DAYS, dt.date(2024, 11, 1)))
    stamps = trimmed.tables["usage_events"]["timestamp"]
    assert (stamps >= pd.Timestamp("2024-12-20", tz="UTC")).sum() == 3


@pytest.mark.parametrize("seed", [3, 8])
def test_random_bases_score_alike_from_the_reach_at_every_as_of(tmp_path, seed):
    tables = random_tables(seed, n_events=600)
    where = write_tables(tmp_path / "random", tables, "parquet")
    full = load_sources(where)
    for as_of in AS_OF[::3]:
        day = as_of.date()
        _assert_scoring_agrees(full, load_sources(where, usage_reach=UsageReach(DAYS, day)),
                               day)


def test_old_rows_are_checked_without_a_reach_and_skipped_with_one(tmp_path, caplog):
    usage = _usage_with_old_last_uses()
    usage.loc[1, "quantity"] = -4  # 2024-02-01: neither recent nor a last use
    where = _sources(tmp_path, usage)
    with pytest.raises(DataContractError) as info:
        load_sources(where)
    assert "usage_events.quantity: values below 0 (1 row)" in str(info.value)
    assert "row 2: -4" in str(info.value)
    with caplog.at_level(logging.INFO, logger="features.sources.loading"):
        trimmed = load_sources(where, usage_reach=UsageReach(DAYS))
    assert "read usage from 2024-10-03 on" in caplog.text
    assert "older rows were not checked" in caplog.text
    assert trimmed.usage_from == pd.Timestamp("2024-10-03", tz="UTC")


def test_validate_and_build_report_a_bad_old_row(tmp_path, run_cli):
    usage = _usage_with_old_last_uses()
    usage.loc[1, "quantity"] = -4
    where = _sources(tmp_path, usage)
    for command in ("validate", "build"):
        result = run_cli(command, "--data", where)
        assert result.code != 0, command
        assert "usage_events.quantity: values below 0" in result.err, command


def test_bad_rows_within_the_reach_are_reported_with_their_row_in_the_file(tmp_path):
    usage = _usage_with_old_last_uses()
    usage.loc[10, "quantity"] = -1  # 2024-12-20, the 11th row of the file
    where = _sources(tmp_path, usage)
    with pytest.raises(DataContractError) as info:
        load_sources(where, usage_reach=UsageReach(DAYS))
    assert "row 11: -1" in str(info.value)


def test_when_no_kept_row_names_a_user_one_that_does_is_kept(tmp_path):
    usage = _usage_with_old_last_uses()
    usage["user_id"] = None
    usage.loc[1, "user_id"] = "u5"  # 2024-02-01: neither recent nor a last use
    usage.loc[5, "user_id"] = "  "  # 2024-09-01, export's last use: blank, so no user
    where = _sources(tmp_path, usage)
    full = load_sources(where)
    trimmed = load_sources(where, usage_reach=UsageReach(DAYS))
    assert trimmed.tables["usage_events"]["user_id"].notna().sum() == 1
    as_of, ids = dt.date(2025, 1, 1), ["A1", "A2", "A3"]
    evidence = evidence_at(trimmed, as_of, ids)
    assert evidence == evidence_at(full, as_of, ids)
    assert evidence["A1"].usage[-1].active_users == 0  # the source names users


def test_csv_usage_is_read_whole(tmp_path):
    tables = tiny_tables()
    tables["usage_events"] = _usage_with_old_last_uses()
    where = write_tables(tmp_path / "csv", tables, "csv")
    trimmed = load_sources(where, usage_reach=UsageReach(DAYS))
    assert trimmed.usage_from is None
    assert len(trimmed.tables["usage_events"]) == len(tables["usage_events"])


def test_usage_with_text_timestamps_is_read_whole(tmp_path):
    usage = _usage_with_old_last_uses()
    usage["timestamp"] = usage["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    where = _sources(tmp_path, usage)
    trimmed = load_sources(where, usage_reach=UsageReach(DAYS))
    assert trimmed.usage_from is None
    assert len(trimmed.tables["usage_events"]) == len(usage)


def test_rows_without_a_timestamp_are_read_and_reported(tmp_path):
    usage = _usage_with_old_last_uses()
    usage.loc[1, "timestamp"] = pd.NaT
    where = _sources(tmp_path, usage)
    with pytest.raises(DataContractError, match=r"usage_events.timestamp: empty values \(1 row"):
        load_sources(where, usage_reach=UsageReach(DAYS))


def test_missing_columns_are_reported_as_without_a_reach(tmp_path):
    where = _sources(tmp_path, _usage_with_old_last_uses().drop(columns="event_type"))
    with pytest.raises(DataContractError, match="event_type"):
        load_sources(where, usage_reach=UsageReach(DAYS))
