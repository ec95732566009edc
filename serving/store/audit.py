"""The audit log: who signed in, exported, reloaded — when, from where, with what outcome.

Events go to the score store's `audit_events` table, on SQLite and PostgreSQL alike, one
short transaction each. Recording never fails the action it records: if the store cannot
be written, the event is logged at ERROR (with everything it would have stored) and the
request goes on, so a database hiccup does not lock every CSM out. A key appears by its
id and label only, never the key.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
from dataclasses import asdict, dataclass, field

import sqlalchemy as sa

from serving.store.schema import audit_events
from serving.store.score_store import ScoreStore

log = logging.getLogger(__name__)

_A = audit_events.c
COLUMNS = ("at", "action", "outcome", "key_id", "role", "label", "target", "client")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class AuditEvent:
    action: str  # sign_in, sign_out, export, reload (and alert actions)
    outcome: str  # ok, refused, failed
    key_id: str = ""  # '' when no key was presented
    role: str = ""
    label: str = ""
    target: str = ""  # what was acted on: the page asked for, the export's filters, ...
    client: str = ""  # the client's address
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


class AuditLog:
    """Appends and reads audit events in a score store."""

    def __init__(self, store: ScoreStore) -> None:
        self.store = store

    def record(self, event: AuditEvent) -> None:
        """Store the event; on a store failure, log it at ERROR instead of raising."""
        try:
            with self.store._guard("Writing the audit log failed"), \
                    self.store._engine.begin() as conn:
                conn.execute(audit_events.insert(), asdict(event))
        except Exception:
            log.exception("audit event not stored: %s", asdict(event))

    def events(self, since: dt.date | None = None, until: dt.date | None = None
               ) -> list[AuditEvent]:
        """Events from `since` through `until` (UTC days, both included), oldest first."""
        where = []
        if since is not None:
            where.append(_A.at >= dt.datetime.combine(since, dt.time(), dt.UTC))
        if until is not None and until < dt.date.max:
            end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.UTC)
            where.append(_A.at < end)
        statement = (sa.select(*(_A[name] for name in COLUMNS)).where(*where)
                     .order_by(_A.at, _A.id))
        with self.store._reading() as conn:
            rows = conn.execute(statement).all()
        return [AuditEvent(**dict(zip(COLUMNS, row, strict=True))) for row in rows]


def render(events: list[AuditEvent], form: str) -> str:
    """The events as CSV (with a header) or JSON Lines."""
    if form == "jsonl":
        return "".join(json.dumps({**asdict(e), "at": e.at.isoformat()}) + "\n"
                       for e in events)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for event in events:
        row = asdict(event)
        writer.writerow([event.at.isoformat(), *(_cell(row[c]) for c in COLUMNS[1:])])
    return buffer.getvalue()


def _cell(text: str) -> str:
    """Text a spreadsheet shows as text, never runs as a formula (a target is user input)."""
    return "'" + text if text.startswith(_FORMULA_START) else text
