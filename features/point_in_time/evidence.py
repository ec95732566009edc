"""The recent evidence behind an account's score, as a CSM would check it by hand.

A reason such as "NPS fell to 3" or "4 tickets open" is more convincing next to the
records it comes from: the last NPS answer with its comment, the tickets still open with
their age and priority, the weekly usage of the last few weeks, and the CSM's latest
notes with the churn-precursor events they name (`note_topics`). This module reads
those records for many accounts at once, with the same point-in-time rule as every
feature: only records strictly before `as_of` (a ticket closed on or after `as_of` is
still open at `as_of`).

Evidence is plain data (dates, numbers, text) and round-trips through JSON, so the batch
job can store it with the scores and the API and CSM page can show it without reading
the sources again.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.point_in_time.note_topics import topic_flags
from features.point_in_time.spine import timestamps_ns
from features.sources.contract import DAY_NS
from features.sources.ids import among
from features.sources.loading import Sources

USAGE_WEEKS = 12
USAGE_DAYS = 7 * USAGE_WEEKS  # how far before as_of the usage evidence reads
MAX_OPEN_TICKETS = 10
MAX_NOTES = 3  # the CSM's latest notes shown, newest first
SENTIMENT_RANK = {"red": 0, "yellow": 1, "green": 2}
# Open tickets are listed most urgent first: by priority, then oldest first.
PRIORITY_ORDER = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
LOGIN = "login"


@dataclass(frozen=True)
class SurveyAnswer:
    """One survey answer (NPS 0-10, CSAT 1-5, CES 1-7) and its comment, if any."""

    kind: str
    responded_at: dt.date
    score: float
    comment: str | None


@dataclass(frozen=True)
class OpenTicket:
    """A ticket open at as_of: opened before it and not closed before it."""

    ticket_id: str
    opened_at: dt.date
    age_days: int
    priority: str | None
    category: str | None
    escalated: bool | None


@dataclass(frozen=True)
class UsageWeek:
    """Usage in the 7 days starting `week_start` (the last week ends the day before as_of).

    `active_users` counts distinct users with any event and is None when the source has
    no user ids (pre-aggregated usage); `logins` sums the quantity of login events;
    `events` sums the quantity of every event type.
    """

    week_start: dt.date
    active_users: int | None
    logins: float
    events: float


@dataclass(frozen=True)
class CsmNote:
    """One CSM note: its sentiment, its text, and the topics of `features.point_in_time.note_topics`
    it names (e.g. "champion_left")."""

    noted_at: dt.date
    sentiment: str | None
    text: str | None
    topics: tuple[str, ...]


@dataclass(frozen=True)
class AccountEvidence:
    """What an account's records showed just before as_of."""

    account_id: str
    as_of: dt.date
    last_nps: SurveyAnswer | None
    last_comment: SurveyAnswer | None  # the latest answer of any kind that has a comment
    open_tickets: tuple[OpenTicket, ...]  # most urgent first, at most MAX_OPEN_TICKETS
    open_ticket_count: int  # all open tickets, also those beyond the list
    usage: tuple[UsageWeek, ...]  # oldest week first, USAGE_WEEKS of them
    # newest first, at most MAX_NOTES; None in evidence stored before notes were part of it
    recent_notes: tuple[CsmNote, ...] | None = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id, "as_of": self.as_of.isoformat(),
            "last_nps": _answer_json(self.last_nps),
            "last_comment": _answer_json(self.last_comment),
            "open_tickets": [{**t.__dict__, "opened_at": t.opened_at.isoformat()}
                             for t in self.open_tickets],
            "open_ticket_count": self.open_ticket_count,
            "usage": [{**w.__dict__, "week_start": w.week_start.isoformat()}
                      for w in self.usage],
            "recent_notes": None if self.recent_notes is None else [
                {**n.__dict__, "noted_at": n.noted_at.isoformat(), "topics": list(n.topics)}
                for n in self.recent_notes],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AccountEvidence:
        return cls(
            account_id=data["account_id"], as_of=dt.date.fromisoformat(data["as_of"]),
            last_nps=_answer_from(data["last_nps"]),
            last_comment=_answer_from(data["last_comment"]),
            open_tickets=tuple(OpenTicket(**{**t, "opened_at": dt.date.fromisoformat(
                t["opened_at"])}) for t in data["open_tickets"]),
            open_ticket_count=int(data["open_ticket_count"]),
            usage=tuple(UsageWeek(**{**w, "week_start": dt.date.fromisoformat(
                w["week_start"])}) for w in data["usage"]),
            recent_notes=None if data.get("recent_notes") is None else tuple(
                CsmNote(**{**n, "noted_at": dt.date.fromisoformat(n["noted_at"]),
                           "topics": tuple(n["topics"])}) for n in data["recent_notes"]),
        )


def evidence_at(sources: Sources, as_of: dt.date, account_ids: Iterable[str]
                ) -> dict[str, AccountEvidence]:
    """Evidence for each of `account_ids` from records strictly before `as_of`."""
    ids = list(dict.fromkeys(str(a) for a in account_ids))
    moment = pd.Timestamp(as_of, tz="UTC")
    sources.require_usage(moment, USAGE_DAYS, "the usage evidence")
    wanted = pd.Index(ids)
    surveys = _before(sources.get("surveys"), "responded_at", moment, wanted)
    last_nps = _last_answers(surveys[surveys["kind"] == "nps"] if surveys is not None else None)
    commented = (surveys[surveys["comment"].notna() & surveys["comment"].astype(str)
                         .str.strip().ne("")]
                 if surveys is not None and "comment" in surveys else None)
    last_comment = _last_answers(commented)
    tickets = _open_tickets(sources.get("tickets"), moment, wanted)
    events = sources.get("usage_events")
    has_users = (events is not None and "user_id" in events
                 and bool(events["user_id"].notna().any()))
    usage = _usage_weeks(events, moment, wanted, has_users)
    empty_usage = _empty_weeks(moment, has_users)
    notes = _recent_notes(_before(sources.get("csm_notes"), "noted_at", moment, wanted))
    return {
        account: AccountEvidence(
            account_id=account, as_of=as_of, last_nps=last_nps.get(account),
            last_comment=last_comment.get(account),
            open_tickets=tuple(tickets.get(account, ())[:MAX_OPEN_TICKETS]),
            open_ticket_count=len(tickets.get(account, ())),
            usage=usage.get(account, empty_usage),
            recent_notes=notes.get(account, ()),
        )
        for account in ids
    }


def account_evidence(sources: Sources, account_id: str, as_of: dt.date) -> AccountEvidence:
    """Evidence for one account (see `evidence_at`)."""
    return evidence_at(sources, as_of, [account_id])[str(account_id)]


def _before(frame: pd.DataFrame | None, column: str, moment: pd.Timestamp,
            accounts: pd.Index) -> pd.DataFrame | None:
    if frame is None:
        return None
    return frame[(frame[column] < moment).to_numpy() & among(frame["account_id"], accounts)]


def _last_answers(surveys: pd.DataFrame | None) -> dict[str, SurveyAnswer]:
    if surveys is None or surveys.empty:
        return {}
    last = surveys.sort_values("responded_at", kind="stable").groupby(
        "account_id", sort=False).tail(1)
    comments = last["comment"] if "comment" in last else pd.Series(None, index=last.index)
    return {
        str(account): SurveyAnswer(str(kind), _day(at), float(score), _text(comment))
        for account, kind, at, score, comment in zip(
            last["account_id"], last["kind"], last["responded_at"], last["score"], comments,
            strict=True)
    }


def _open_tickets(tickets: pd.DataFrame | None, moment: pd.Timestamp, accounts: pd.Index
                  ) -> dict[str, list[OpenTicket]]:
    if tickets is None:
        return {}
    opened = tickets[(tickets["opened_at"] < moment).to_numpy()
                     & among(tickets["account_id"], accounts)]
    if "closed_at" in opened:
        opened = opened[opened["closed_at"].isna() | (opened["closed_at"] >= moment)]
    if opened.empty:
        return {}
    columns = {c: (opened[c] if c in opened else pd.Series(None, index=opened.index)
                   ).to_numpy() for c in ("priority", "category", "escalated")}
    rank = pd.Series(columns["priority"]).map(PRIORITY_ORDER).fillna(len(PRIORITY_ORDER))
    order = np.lexsort((opened["opened_at"].to_numpy(), rank.to_numpy()))
    # Plain Python values, read once: a ticket at a time from pandas costs far more.
    accounts_of = opened["account_id"].to_numpy()
    ticket_ids = opened["ticket_id"].to_numpy()
    days = opened["opened_at"].dt.date.to_numpy()
    ages = ((moment - opened["opened_at"]) // pd.Timedelta(days=1)).tolist()
    out: dict[str, list[OpenTicket]] = {}
    for i in order:
        out.setdefault(str(accounts_of[i]), []).append(OpenTicket(
            ticket_id=str(ticket_ids[i]), opened_at=days[i], age_days=int(ages[i]),
            priority=_text(columns["priority"][i]), category=_text(columns["category"][i]),
            escalated=_flag(columns["escalated"][i]),
        ))
    return out


def _recent_notes(notes: pd.DataFrame | None) -> dict[str, tuple[CsmNote, ...]]:
    """The latest `MAX_NOTES` notes of each account, newest first. Of notes written at the
    same moment the higher sentiment counts as the later, as in the sentiment features,
    so the first note shown is the one `csm_sentiment_latest` reads."""
    if notes is None or notes.empty:
        return {}
    rank = (notes["sentiment"].astype("object").map(SENTIMENT_RANK).fillna(-1)
            if "sentiment" in notes else pd.Series(-1, index=notes.index))
    order = np.lexsort((-rank.to_numpy(dtype=np.float64),
                        -timestamps_ns(notes["noted_at"]).astype(np.float64)))
    latest = notes.iloc[order].groupby("account_id", sort=False).head(MAX_NOTES)
    texts = (latest["text"] if "text" in latest else pd.Series(None, index=latest.index))
    named = topic_flags(texts)
    topics = [tuple(t for t, flags in named.items() if flags[i]) for i in range(len(latest))]
    sentiments = (latest["sentiment"] if "sentiment" in latest
                  else pd.Series(None, index=latest.index)).to_numpy()
    out: dict[str, list[CsmNote]] = {}
    for i, (account, at, text) in enumerate(zip(latest["account_id"], latest["noted_at"],
                                                texts, strict=True)):
        out.setdefault(str(account), []).append(
            CsmNote(_day(at), _text(sentiments[i]), _text(text), topics[i]))
    return {account: tuple(listed) for account, listed in out.items()}


def _week_starts(moment: pd.Timestamp) -> list[pd.Timestamp]:
    first = moment.normalize() - pd.Timedelta(days=USAGE_DAYS)
    return [first + pd.Timedelta(days=7 * k) for k in range(USAGE_WEEKS)]


def _empty_weeks(moment: pd.Timestamp, has_users: bool) -> tuple[UsageWeek, ...]:
    return tuple(UsageWeek(_day(start), 0 if has_users else None, 0.0, 0.0)
                 for start in _week_starts(moment))


def _usage_weeks(usage: pd.DataFrame | None, moment: pd.Timestamp, accounts: pd.Index,
                 has_users: bool) -> dict[str, tuple[UsageWeek, ...]]:
    """Weekly sums per account; `has_users` says whether the source has user ids at all.

    Ids are hashed once per distinct value and rows picked by position: usage can hold
    millions of rows in the weeks shown, and each pandas filter of the whole frame would
    copy every column of them. Rows keep their order, so the sums are the same.
    """
    if usage is None:
        return {}
    starts = _week_starts(moment)
    stamps = timestamps_ns(usage["timestamp"])
    rows = np.flatnonzero((stamps >= starts[0].value) & (stamps < moment.value))
    codes, names = pd.factorize(usage["account_id"].take(rows))
    shown = np.append(accounts.get_indexer(names) >= 0, False)[codes]  # -1: no account
    rows, codes = rows[shown], codes[shown]
    if not len(rows):
        return {}
    week = (stamps[rows] - starts[0].value) // (7 * DAY_NS)
    cell = codes * USAGE_WEEKS + week
    cells = len(names) * USAGE_WEEKS
    quantity = (usage["quantity"].to_numpy(np.float64)[rows] if "quantity" in usage
                else np.ones(len(rows)))
    events = np.bincount(cell, weights=quantity, minlength=cells).reshape(-1, USAGE_WEEKS)
    is_login = (usage["event_type"] == LOGIN).to_numpy()[rows]
    logins = np.bincount(cell[is_login], weights=quantity[is_login],
                         minlength=cells).reshape(-1, USAGE_WEEKS)
    users: list[list[int]] | list[list[None]] = [[None] * USAGE_WEEKS] * len(names)
    if has_users:
        user_codes, user_names = pd.factorize(usage["user_id"].take(rows))
        named = user_codes >= 0
        pairs = pd.unique(cell[named] * max(len(user_names), 1) + user_codes[named])
        users = np.bincount(pairs // max(len(user_names), 1), minlength=cells).reshape(
            -1, USAGE_WEEKS).tolist()
    days = [_day(start) for start in starts]
    event_sums, login_sums, account_names = events.tolist(), logins.tolist(), list(names)
    return {
        str(account_names[i]): tuple(map(UsageWeek, days, users[i], login_sums[i],
                                         event_sums[i]))
        for i in np.unique(codes).tolist()
    }


def _day(moment: pd.Timestamp) -> dt.date:
    return pd.Timestamp(moment).date()


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    text = str(value).strip()
    return text or None


def _flag(value: object) -> bool | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return bool(value)


def _answer_json(answer: SurveyAnswer | None) -> dict[str, Any] | None:
    if answer is None:
        return None
    return {**answer.__dict__, "responded_at": answer.responded_at.isoformat()}


def _answer_from(data: Mapping[str, Any] | None) -> SurveyAnswer | None:
    if data is None:
        return None
    return SurveyAnswer(**{**data, "responded_at": dt.date.fromisoformat(data["responded_at"])})
