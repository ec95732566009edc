"""Evidence on random customer bases, checked against a row-by-row oracle."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
from random_sources import AS_OF, load_tables, random_tables

from features.point_in_time.evidence import (
    MAX_NOTES,
    MAX_OPEN_TICKETS,
    PRIORITY_ORDER,
    USAGE_WEEKS,
    evidence_at,
)


def _weeks(usage: pd.DataFrame, account: str, as_of: dt.date
           ) -> list[tuple[dt.date, int, float, float]]:
    """(week start, active users, logins, events) of each week, one row at a time."""
    end = pd.Timestamp(as_of, tz="UTC")
    out = []
    for k in range(USAGE_WEEKS, 0, -1):
        start = end - pd.Timedelta(weeks=k)
        rows = [r for r in usage.itertuples() if r.account_id == account
                and start <= r.timestamp < start + pd.Timedelta(weeks=1)]
        users = {r.user_id for r in rows if isinstance(r.user_id, str)}
        logins = sum(float(r.quantity) for r in rows if r.event_type == "login")
        out.append((start.date(), len(users), logins, sum(float(r.quantity) for r in rows)))
    return out


def _open_tickets(tickets: pd.DataFrame, account: str, as_of: dt.date
                  ) -> list[tuple[str, int, str | None]]:
    """(ticket, age in days, priority) of the open tickets, most urgent and oldest first."""
    moment = pd.Timestamp(as_of, tz="UTC")
    rows = [r for r in tickets.itertuples() if r.account_id == account
            and r.opened_at < moment and (pd.isna(r.closed_at) or r.closed_at >= moment)]
    rows.sort(key=lambda r: (PRIORITY_ORDER.get(r.priority, len(PRIORITY_ORDER)),
                             r.opened_at))
    return [(r.ticket_id, (moment - r.opened_at).days,
             r.priority if isinstance(r.priority, str) else None) for r in rows]


@pytest.mark.parametrize("seed", [4, 11])
def test_usage_weeks_and_open_tickets_match_the_oracle(tmp_path, seed):
    sources = load_tables(tmp_path, random_tables(seed))
    usage, tickets = sources.tables["usage_events"], sources.tables["tickets"]
    assert tickets["priority"].isna().any()  # tickets without a priority are listed too
    accounts = list(sources.accounts["account_id"])
    for as_of in AS_OF[::4]:
        found = evidence_at(sources, as_of.date(), accounts)
        for account in accounts:
            weeks = [(w.week_start, w.active_users, w.logins, w.events)
                     for w in found[account].usage]
            for got, want in zip(weeks, _weeks(usage, account, as_of.date()), strict=True):
                assert got[:2] == want[:2]
                assert math.isclose(got[2], want[2]) and math.isclose(got[3], want[3])
            listed = [(t.ticket_id, t.age_days, t.priority)
                      for t in found[account].open_tickets]
            expected = _open_tickets(tickets, account, as_of.date())
            assert found[account].open_ticket_count == len(expected)
            assert listed == expected[:MAX_OPEN_TICKETS]


def _notes(notes: pd.DataFrame, account: str, as_of: dt.date
           ) -> list[tuple[dt.date, str, str | None]]:
    """(day, sentiment, text) of the latest notes before as_of, newest first; at one
    moment the higher sentiment counts as the later."""
    moment = pd.Timestamp(as_of, tz="UTC")
    rank = {"red": 0, "yellow": 1, "green": 2}
    rows = [r for r in notes.itertuples() if r.account_id == account and r.noted_at < moment]
    rows.sort(key=lambda r: (r.noted_at, rank[r.sentiment]), reverse=True)
    return [(r.noted_at.date(), r.sentiment, r.text if isinstance(r.text, str) else None)
            for r in rows[:MAX_NOTES]]


@pytest.mark.parametrize("seed", [4, 11])
def test_latest_notes_match_the_oracle(tmp_path, seed):
    sources = load_tables(tmp_path, random_tables(seed))
    notes = sources.tables["csm_notes"]
    accounts = list(sources.accounts["account_id"])
    shown = 0
    for as_of in AS_OF[::4]:
        found = evidence_at(sources, as_of.date(), accounts)
        for account in accounts:
            listed = found[account].recent_notes
            assert listed is not None
            assert [(n.noted_at, n.sentiment, n.text) for n in listed] == _notes(
                notes, account, as_of.date())
            shown += len(listed)
    assert shown > 0
