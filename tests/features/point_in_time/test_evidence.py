"""Evidence behind a score: last NPS, open tickets and weekly usage, strictly before as_of."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from features.point_in_time.evidence import (
    MAX_NOTES,
    MAX_OPEN_TICKETS,
    USAGE_WEEKS,
    AccountEvidence,
    CsmNote,
    account_evidence,
    evidence_at,
)
from features.point_in_time.training_set import build_scoring_frame
from features.sources.loading import load_sources


def _edit_tables(tables: dict[str, pd.DataFrame]) -> None:
    tables["surveys"] = pd.DataFrame({
        "account_id": ["A1", "A1", "A1", "A1", "A2"],
        "responded_at": ["2024-03-01", "2024-05-01", "2024-06-01", "2024-07-01",
                         "2024-04-01"],
        "kind": ["nps", "nps", "csat", "nps", "csat"],
        "score": ["9", "4", "2", "1", "5"],
        # the NPS of 2024-07-01 is on as_of: not yet known
        "comment": ["great", "   ", "support is slow", "cancel", None],
    })
    tables["tickets"] = pd.DataFrame({
        "ticket_id": ["T1", "T2", "T3", "T4", "T5"],
        "account_id": ["A1", "A1", "A1", "A1", "A2"],
        "opened_at": ["2024-06-01", "2024-06-20", "2024-05-01", "2024-07-01", "2024-01-01"],
        # T3 closed on as_of: still open at as_of; T5 closed before: not open
        "closed_at": [None, None, "2024-07-01", None, "2024-02-01"],
        "priority": ["low", "urgent", "normal", "urgent", "high"],
        "category": ["bug", "outage", "billing", "bug", "bug"],
        "csat": [None] * 5,
        "escalated": ["false", "true", "false", "false", "false"],
        "first_response_minutes": [None] * 5,
    })
    tables["usage_events"] = pd.DataFrame({
        "account_id": ["A1", "A1", "A1", "A1", "A1", "A1", "A2"],
        "timestamp": ["2024-06-30T23:00:00Z", "2024-06-30", "2024-06-24", "2024-06-24",
                      "2024-04-07", "2024-07-01", "2024-06-29"],
        "event_type": ["login", "login", "report_created", "login", "login", "login",
                       "export"],
        "user_id": ["u1", "u2", "u1", "u1", "u3", "u4", None],
        "quantity": ["1", "2", "5", "3", "1", "9", "4"],
    })

    tables["csm_notes"] = pd.DataFrame({
        "account_id": ["A1", "A1", "A1", "A1", "A1", "A2"],
        "noted_at": ["2024-03-01", "2024-05-01", "2024-06-10", "2024-06-30T16:00:00Z",
                     "2024-07-01", "2024-06-01"],
        "sentiment": ["green", "red", "yellow", "red", "green", "yellow"],
        # the note of 2024-07-01 is on as_of: not yet known
        "text": ["QBR went well", "Our champion has left the company.", None,
                 "Big OUTAGE today, incident call", "on as_of", "Quiet month"],
    })


AS_OF = dt.date(2024, 7, 1)


def test_evidence_reads_only_records_before_as_of(make_sources: Callable[..., Path]) -> None:
    sources = load_sources(make_sources(_edit_tables))
    found = account_evidence(sources, "A1", AS_OF)

    assert found.last_nps is not None
    assert (found.last_nps.responded_at, found.last_nps.score) == (dt.date(2024, 5, 1), 4.0)
    assert found.last_nps.comment is None  # a blank comment is no comment
    assert found.last_comment is not None
    assert (found.last_comment.kind, found.last_comment.comment) == ("csat", "support is slow")

    # T4 opens on as_of (not yet there); T3 closes on as_of (still open); urgent first.
    assert [t.ticket_id for t in found.open_tickets] == ["T2", "T3", "T1"]
    assert found.open_ticket_count == 3
    assert [t.age_days for t in found.open_tickets] == [11, 61, 30]
    assert found.open_tickets[0].escalated is True
    assert found.open_tickets[0].priority == "urgent"

    assert len(found.usage) == USAGE_WEEKS
    assert found.usage[-1].week_start == dt.date(2024, 6, 24)
    assert found.usage[0].week_start == dt.date(2024, 6, 24) - dt.timedelta(weeks=11)
    last = found.usage[-1]  # 2024-06-24 .. 06-30: u1, u2 (u4 logs in on as_of)
    assert (last.active_users, last.logins, last.events) == (2, 6.0, 11.0)
    # 2024-04-07 lies before the first of the 12 weeks (2024-04-08)
    assert all(w.events == 0 and w.active_users == 0 for w in found.usage[:-1])


def test_account_without_records_gets_empty_evidence(make_sources: Callable[..., Path]
                                                     ) -> None:
    sources = load_sources(make_sources(_edit_tables))
    found = evidence_at(sources, AS_OF, ["A3", "A2"])

    assert list(found) == ["A3", "A2"]
    a3 = found["A3"]
    assert a3.last_nps is None and a3.last_comment is None
    assert a3.open_tickets == () and a3.open_ticket_count == 0
    assert [w.events for w in a3.usage] == [0.0] * USAGE_WEEKS
    assert found["A2"].usage[-1].events == 4.0
    assert found["A2"].open_ticket_count == 0  # T5 closed in February


def test_open_tickets_list_is_capped_but_counted(make_sources: Callable[..., Path]) -> None:
    many = MAX_OPEN_TICKETS + 3

    def edit(tables: dict[str, pd.DataFrame]) -> None:
        tables["tickets"] = pd.DataFrame({
            "ticket_id": [f"T{i}" for i in range(many)], "account_id": ["A1"] * many,
            "opened_at": [f"2024-06-{i + 1:02d}" for i in range(many)],
            "closed_at": [None] * many, "priority": ["normal"] * many,
        })

    sources = load_sources(make_sources(edit))
    found = account_evidence(sources, "A1", AS_OF)
    assert found.open_ticket_count == many
    assert len(found.open_tickets) == MAX_OPEN_TICKETS
    assert found.open_tickets[0].ticket_id == "T0"  # same priority: oldest first


def test_latest_csm_notes_name_their_risk_events(make_sources: Callable[..., Path]) -> None:
    sources = load_sources(make_sources(_edit_tables))
    found = evidence_at(sources, AS_OF, ["A1", "A2", "A3"])
    assert MAX_NOTES == 3
    assert found["A1"].recent_notes == (  # newest first; 2024-03-01 is the fourth
        CsmNote(dt.date(2024, 6, 30), "red", "Big OUTAGE today, incident call", ("incident",)),
        CsmNote(dt.date(2024, 6, 10), "yellow", None, ()),
        CsmNote(dt.date(2024, 5, 1), "red", "Our champion has left the company.",
                ("champion_left",)),
    )
    assert found["A2"].recent_notes == (CsmNote(dt.date(2024, 6, 1), "yellow", "Quiet month",
                                                ()),)
    assert found["A3"].recent_notes == ()


def test_evidence_stored_before_notes_reads_without_them(make_sources: Callable[..., Path]
                                                         ) -> None:
    found = account_evidence(load_sources(make_sources(_edit_tables)), "A1", AS_OF)
    stored = found.to_json()
    del stored["recent_notes"]
    assert AccountEvidence.from_json(stored).recent_notes is None  # not "no notes"


def test_notes_of_one_moment_list_the_one_the_features_call_latest_first(
        make_sources: Callable[..., Path]) -> None:
    def edit(tables: dict[str, pd.DataFrame]) -> None:
        _edit_tables(tables)
        tables["csm_notes"] = pd.DataFrame({
            "account_id": ["A1", "A1", "A1"], "noted_at": ["2024-06-01"] * 3,
            "sentiment": ["green", "red", "yellow"], "text": ["g", "r", "y"]})

    sources = load_sources(make_sources(edit))
    notes = account_evidence(sources, "A1", AS_OF).recent_notes
    assert notes is not None and [n.sentiment for n in notes] == ["green", "yellow", "red"]
    frame = build_scoring_frame(sources, AS_OF, [])
    latest = frame.loc[frame["account_id"] == "A1", "csm_sentiment_latest"].iloc[0]
    assert latest == notes[0].sentiment


def test_evidence_round_trips_through_json(make_sources: Callable[..., Path]) -> None:
    sources = load_sources(make_sources(_edit_tables))
    for found in evidence_at(sources, AS_OF, ["A1", "A2", "A3"]).values():
        assert AccountEvidence.from_json(found.to_json()) == found


def test_usage_without_user_ids_has_no_active_user_counts(make_sources: Callable[..., Path]
                                                          ) -> None:
    def edit(tables: dict[str, pd.DataFrame]) -> None:
        _edit_tables(tables)
        tables["usage_events"] = tables["usage_events"].drop(columns="user_id")

    sources = load_sources(make_sources(edit))
    found = account_evidence(sources, "A1", AS_OF)
    assert all(w.active_users is None for w in found.usage)
    assert found.usage[-1].logins == 6.0
