"""No snapshot sees its future: later records, row order and open tickets."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from random_sources import AS_OF, DATA_END, load_tables, random_tables

from features.point_in_time.catalog import feature_names, key_features_in
from features.point_in_time.spec import TrainingSetSpec
from features.point_in_time.spine import IDENTITY_COLUMNS
from features.point_in_time.training_set import build_scoring_frame, build_training_set
from features.sources.loading import load_sources

SNAPSHOTS = [pd.Timestamp(d, tz="UTC") for d in ("2023-07-01", "2024-02-01", "2024-07-29")]
FEATURES_OF = slice(len(IDENTITY_COLUMNS), None)


def _future_records(tables: dict[str, pd.DataFrame], as_of: pd.Timestamp,
                    rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """The tables plus records stamped at or after `as_of` (a third exactly at it)."""
    out = {name: frame.copy() for name, frame in tables.items()}
    accounts = tables["accounts"]["account_id"].to_numpy()
    span = (DATA_END - as_of).days

    def moments(n: int) -> pd.Series:
        days = np.where(rng.random(n) < 0.35, 0, rng.integers(0, span + 1, n))
        return pd.Series(as_of + pd.to_timedelta(days, unit="D"))

    def add(name: str, extra: pd.DataFrame) -> None:
        out[name] = pd.concat([out[name], extra], ignore_index=True)

    n = 60
    add("usage_events", pd.DataFrame({
        "account_id": rng.choice(accounts, n), "timestamp": moments(n),
        "event_type": rng.choice(["login", "export", "brand_new_feature"], n),
        "user_id": rng.choice(["u1", "u9"], n), "quantity": 5.0}))
    opened = moments(10)
    add("tickets", pd.DataFrame({
        "ticket_id": [f"F{i}" for i in range(10)], "account_id": rng.choice(accounts, 10),
        "opened_at": opened, "closed_at": opened.where(rng.random(10) < 0.5),
        "priority": "urgent", "csat": 1.0, "escalated": True}))
    add("surveys", pd.DataFrame({"account_id": rng.choice(accounts, 10),
                                 "responded_at": moments(10), "kind": "nps", "score": 0.0}))
    add("csm_notes", pd.DataFrame({"account_id": rng.choice(accounts, 10),
                                   "noted_at": moments(10), "sentiment": "red"}))
    add("subscriptions", pd.DataFrame({
        "subscription_id": ["F-S"], "account_id": [accounts[0]],
        "start_date": [as_of + pd.Timedelta(hours=1)],
        "end_date": [as_of + pd.Timedelta(days=400)], "arr": [1.0]}))
    # Tickets still open at as_of get closed at or after it.
    tickets = out["tickets"]
    still_open = (tickets["opened_at"] < as_of) & (tickets["closed_at"].isna()
                                                   | (tickets["closed_at"] >= as_of))
    tickets.loc[still_open, "closed_at"] = as_of
    return out


@pytest.mark.parametrize("seed", [5, 6])
@pytest.mark.parametrize("as_of", SNAPSHOTS)
def test_records_at_or_after_as_of_change_no_feature(tmp_path, seed, as_of):
    tables = random_tables(seed)
    before = build_scoring_frame(load_tables(tmp_path / "a", tables), as_of)
    later = _future_records(tables, as_of, np.random.default_rng(seed))
    keys = key_features_in(list(before.columns))
    after = build_scoring_frame(load_tables(tmp_path / "b", later), as_of, key_features=keys)
    assert len(before) > 0
    pd.testing.assert_frame_equal(before.iloc[:, FEATURES_OF], after.iloc[:, FEATURES_OF])


def test_shuffled_rows_give_the_same_training_set(tmp_path):
    tables = random_tables(7)
    rng = np.random.default_rng(0)
    shuffled = {name: frame.sample(frac=1.0, random_state=rng).reset_index(drop=True)
                for name, frame in tables.items()}
    spec = TrainingSetSpec(dates=tuple(d.date() for d in AS_OF))
    original = build_training_set(load_tables(tmp_path / "a", tables), spec)
    again = build_training_set(load_tables(tmp_path / "b", shuffled), spec)
    pd.testing.assert_frame_equal(original, again)


def _one_ticket(make_sources, closed_at: str | None) -> pd.Series:
    def edit(tables: dict[str, pd.DataFrame]) -> None:
        tables["tickets"] = tables["tickets"].iloc[[1]].assign(
            account_id="A1", opened_at="2024-03-01", closed_at=closed_at, priority="high",
            escalated="false")
    frame = build_scoring_frame(load_sources(make_sources(edit)), "2024-04-01")
    return frame.set_index("account_id").loc["A1"]


def test_a_ticket_closed_at_or_after_as_of_was_open_at_as_of(make_sources):
    for closed in ("2024-04-01", "2024-04-01T00:00:01Z", "2024-06-01", None):
        row = _one_ticket(make_sources, closed)
        assert row["open_tickets"] == 1, closed
        assert row["open_high_urgent_tickets"] == 1
        assert row["oldest_open_ticket_days"] == 31.0
    row = _one_ticket(make_sources, "2024-03-31T23:59:59Z")
    assert row["open_tickets"] == 0 and np.isnan(row["oldest_open_ticket_days"])
    assert row["median_resolution_hours_90d"] == pytest.approx(24 * 31 - 1 / 3600)


def test_a_missing_optional_table_drops_its_family_with_a_log_line(make_sources, caplog):
    def drop(tables: dict[str, pd.DataFrame]) -> None:
        del tables["tickets"], tables["csm_notes"]
    sources = load_sources(make_sources(drop))
    with caplog.at_level(logging.INFO, logger="features.point_in_time.build"):
        frame = build_training_set(sources, TrainingSetSpec(start="2023-06-01"))
    features = list(frame.columns[FEATURES_OF])
    assert features == feature_names({"usage_events", "surveys"}, ["report_created"])
    assert "open_tickets" not in features and "csm_sentiment_latest" not in features
    assert "nps_latest" in features and "lifecycle_stage" in features
    assert "no tickets table" in caplog.text and "no csm_notes table" in caplog.text
