"""Alerts in the score store: evaluating a run, listing, and what CSMs do with them.

An alert is open, acknowledged, snoozed until a day (it wakes up open after that day) or
resolved with an outcome. Evaluating a run (`evaluate_run`) reads the run and the one
before it, asks the engine (`serving.alerts.evaluate`) what changes, and applies the
changes together with the webhook deliveries they cause (`serving.alerts.outbox`) in one
transaction: a failure leaves neither alerts without their deliveries nor the reverse.
A run is evaluated once; evaluating it again returns what the first time did.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import ItemsView, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from features.errors import ChurnlensError
from serving.alerts.evaluate import (
    STALE_RULE,
    AccountRun,
    Changes,
    RunView,
    Unresolved,
    evaluate,
)
from serving.alerts.outbox import enqueue
from serving.alerts.rules import AlertConfig
from serving.store.models import RunSummary
from serving.store.schema import (
    account_facts,
    account_scores,
    alert_evaluations,
    alerts,
    run_sources,
)
from serving.store.score_store import ScoreStore

log = logging.getLogger(__name__)

STATES = ("open", "acknowledged", "snoozed", "resolved")
OUTCOMES = ("saved", "churned", "false_alarm", "no_action", "cleared")
ACTIONS = ("ack", "snooze", "resolve")
_A = alerts.c
INBOX_ORDER = (sa.case({"critical": 0, "warning": 1}, value=_A.severity, else_=2),
               _A.probability.desc().nulls_last(), _A.id.desc())


class AlertError(ChurnlensError):
    """Alerts cannot do as asked: a bad date, outcome or action, no run to evaluate, or a
    run older than one evaluated already."""

    http_status = 422
    exit_code = 2


class AlertNotFoundError(AlertError):
    http_status = 404


class AlertStateError(AlertError):
    """The alert is resolved already: there is nothing left to act on."""

    http_status = 409


@dataclass(frozen=True)
class Alert:
    id: int
    rule: str
    account_id: str
    account_name: str
    csm_owner: str
    owner: str
    severity: str
    state: str
    outcome: str | None
    title: str
    first_run_id: int
    first_as_of: dt.date
    run_id: int
    previous_run_id: int | None
    model_version: str
    probability: float | None
    risk_change: float | None
    renewal_date: dt.date | None
    signals: tuple[dict[str, Any], ...]
    facts: dict[str, Any]
    opened_at: dt.datetime
    updated_at: dt.datetime
    snoozed_until: dt.date | None
    resolved_at: dt.datetime | None
    note: str

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for key, value in out.items():
            if isinstance(value, dt.date):
                out[key] = value.isoformat()
        out["signals"] = list(self.signals)
        return out


class StoredDrivers(Mapping[str, float]):
    """An account's stored contributions, decoded from their JSON on first use."""

    def __init__(self, text: str | None) -> None:
        self._text: str | None = text
        self._decoded: dict[str, float] | None = None

    def _data(self) -> dict[str, float]:
        if self._decoded is None:
            self._decoded = json.loads(self._text) if self._text else {}
        return self._decoded

    def __getitem__(self, name: str) -> float:
        return self._data()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())

    def items(self) -> ItemsView[str, float]:  # the dict's own: Mapping's is slow
        return self._data().items()


@dataclass(frozen=True)
class AlertFilter:
    owner: str | None = None
    state: str | None = None  # one of STATES, or "unresolved"
    rule: str | None = None
    severity: str | None = None
    account_id: str | None = None
    scope: frozenset[str] | None = None  # csm_owner values the reader may see (None: all)


class AlertBook:
    """The alerts of one score store."""

    def __init__(self, store: ScoreStore) -> None:
        self.store = store

    # -- evaluating runs ----------------------------------------------------------------

    def evaluate_run(self, config: AlertConfig, run_id: int | None = None,
                     now: dt.datetime | None = None) -> tuple[RunSummary, dict[str, Any]]:
        """Evaluate the rules on a run (default the newest) and store what changed."""
        at = now or dt.datetime.now(dt.UTC)
        run, previous = self.store.position(run_id)
        if run is None:
            raise AlertError("The score store holds no scoring run yet: run `churnlens "
                             "score` first.")
        with self.store._reading() as conn:
            done = conn.execute(sa.select(alert_evaluations.c.changes).where(
                alert_evaluations.c.run_id == run.id)).scalar_one_or_none()
            newest = conn.execute(sa.select(alert_evaluations.c.as_of, alert_evaluations.c.run_id)
                                  .order_by(alert_evaluations.c.as_of.desc(),
                                            alert_evaluations.c.run_id.desc())
                                  .limit(1)).first()
        if done is not None:
            return run, {**dict(done), "repeat": True}
        if newest is not None and (run.as_of, run.id) < (newest[0], newest[1]):
            raise AlertError(f"Run {run.id} (as of {run.as_of}) is older than run {newest[1]} "
                             f"(as of {newest[0]}), whose alerts were evaluated already; "
                             f"alerts only move forward in time.")
        view = self.run_view(run)
        before = self.run_view(previous) if previous is not None else None
        with self.store._reading() as conn:
            unresolved = _unresolved(conn)
            last = _last_opened(conn)
        changes = evaluate(config, view, before, unresolved, last)
        summary = {**changes.count(), "suppressed": changes.suppressed}
        with self.store._writing(f"Storing the alerts of run {run.id}") as conn:
            self._wake(conn, at.date(), at)
            opened = _apply(conn, changes, view, before, at, bool(config.endpoints))
            summary["deliveries"] = enqueue(conn, config, opened, at)
            conn.execute(alert_evaluations.insert().values(
                run_id=run.id, as_of=run.as_of, evaluated_at=at, changes=summary))
        log.info("alerts of run %d: %s", run.id, summary)
        return run, summary

    def run_view(self, run: RunSummary) -> RunView:
        """A stored run as the rules engine reads it; each account's drivers are decoded
        only if asked for (the signals that moved, for the accounts an alert names)."""
        s, f = account_scores.c, account_facts.c
        query = (sa.select(s.account_id, s.name, s.csm_owner, s.probability, s.band,
                           s.renewal_date, sa.cast(s.drivers, sa.Text).label("drivers"),
                           f.facts)
                 .select_from(account_scores.outerjoin(
                     account_facts, (f.run_id == s.run_id) & (f.account_id == s.account_id)))
                 .where(s.run_id == run.id))
        with self.store._reading() as conn:
            rows = conn.execute(query).all()
            last = conn.execute(sa.select(run_sources.c.last_records).where(
                run_sources.c.run_id == run.id)).scalar_one_or_none()
        accounts = {str(r.account_id): AccountRun(
            str(r.account_id), str(r.name), str(r.csm_owner), float(r.probability),
            str(r.band), r.renewal_date, StoredDrivers(r.drivers), dict(r.facts or {}))
            for r in rows}
        return RunView(run.id, run.as_of, run.model_version, accounts, dict(last or {}))

    # -- reading --------------------------------------------------------------------------

    def list(self, where: AlertFilter, page: int = 1, per_page: int = 50,
             today: dt.date | None = None) -> tuple[list[Alert], int]:
        """One page of alerts, most severe first, then riskiest, then newest, and how
        many match in all."""
        self.wake(today)
        conditions = _conditions(where)
        with self.store._reading() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(alerts)
                                 .where(*conditions)).scalar_one()
            rows = conn.execute(sa.select(alerts).where(*conditions)
                                .order_by(*INBOX_ORDER).limit(per_page)
                                .offset((page - 1) * per_page)).all()
        return [alert_of(r) for r in rows], int(total)

    def visible(self, alert_id: int, scope: frozenset[str] | None) -> Alert:
        """The alert, if the reader's book holds it (`scope`: its CSMs; None: every
        alert); another book's is "not found" like an unknown id."""
        try:
            alert = self.get(alert_id)
        except AlertNotFoundError:
            alert = None
        if alert is None or (scope is not None and alert.csm_owner not in scope):
            raise AlertNotFoundError(f"No alert {alert_id} in this book; the list shows "
                                     f"the ids.")
        return alert

    def get(self, alert_id: int, today: dt.date | None = None) -> Alert:
        self.wake(today)
        with self.store._reading() as conn:
            row = conn.execute(sa.select(alerts).where(_A.id == alert_id)).first()
        if row is None:
            raise AlertNotFoundError(f"No alert {alert_id}: `churnlens alerts list` shows "
                                     f"the ids.")
        return alert_of(row)

    def fired(self) -> dict[tuple[str, str], int]:
        """How many alerts each (rule, severity) has raised, resolved ones included."""
        with self.store._reading() as conn:
            rows = conn.execute(sa.select(_A.rule, _A.severity, sa.func.count())
                                .group_by(_A.rule, _A.severity)).all()
        return {(str(rule), str(severity)): int(n) for rule, severity, n in rows}

    def wake(self, today: dt.date | None = None) -> int:
        """Reopen snoozed alerts whose day has passed; how many woke."""
        at = dt.datetime.now(dt.UTC)
        with self.store._writing("Waking snoozed alerts") as conn:
            return self._wake(conn, today or at.date(), at)

    # -- acting ---------------------------------------------------------------------------

    def act(self, alert_id: int, action: str, *, until: dt.date | None = None,
            outcome: str | None = None, note: str = "", today: dt.date | None = None
            ) -> Alert:
        """Acknowledge, snooze (until a later day) or resolve (with an outcome) an alert."""
        day = today or dt.datetime.now(dt.UTC).date()
        alert = self.get(alert_id, day)
        if alert.state == "resolved":
            raise AlertStateError(f"Alert {alert_id} is resolved ({alert.outcome}); nothing to "
                             f"{action}.")
        values: dict[str, Any] = {"updated_at": dt.datetime.now(dt.UTC)}
        if note:
            values["note"] = note[:2000]
        if action == "ack":
            values["state"] = "acknowledged"
        elif action == "snooze":
            if until is None or until <= day:
                raise AlertError(f"Snooze alert {alert_id} until a day after today ({day}), "
                                 f"e.g. --until {day + dt.timedelta(days=7)}.")
            values |= {"state": "snoozed", "snoozed_until": until}
        elif action == "resolve":
            if outcome not in OUTCOMES[:-1]:
                raise AlertError(f"Resolve alert {alert_id} with an outcome: one of "
                                 f"{', '.join(OUTCOMES[:-1])}.")
            values |= {"state": "resolved", "outcome": outcome,
                       "resolved_at": values["updated_at"], "snoozed_until": None}
        else:
            raise AlertError(f"Unknown alert action {action!r}; use one of "
                             f"{', '.join(ACTIONS)}.")
        with self.store._writing(f"Updating alert {alert_id}") as conn:
            changed = conn.execute(alerts.update().where(
                _A.id == alert_id, _A.state != "resolved").values(**values)).rowcount
        if not changed:  # an evaluation resolved it meanwhile
            raise AlertStateError(f"Alert {alert_id} was resolved meanwhile; nothing to "
                                  f"{action}.")
        return self.get(alert_id, day)

    @staticmethod
    def _wake(conn: sa.Connection, today: dt.date, at: dt.datetime) -> int:
        return int(conn.execute(alerts.update().where(
            _A.state == "snoozed", _A.snoozed_until <= today).values(
            state="open", snoozed_until=None, updated_at=at)).rowcount)


def _conditions(where: AlertFilter) -> list[sa.ColumnElement[bool]]:
    out: list[sa.ColumnElement[bool]] = []
    if where.state == "unresolved":
        out.append(_A.state != "resolved")
    elif where.state is not None:
        out.append(_A.state == where.state)
    for column, value in ((_A.owner, where.owner), (_A.rule, where.rule),
                          (_A.severity, where.severity), (_A.account_id, where.account_id)):
        if value is not None:
            out.append(column == value)
    if where.scope is not None:
        out.append(_A.csm_owner.in_(sorted(where.scope)))
    return out


def _unresolved(conn: sa.Connection) -> list[Unresolved]:
    rows = conn.execute(sa.select(_A.id, _A.rule, _A.account_id, _A.quiet_runs)
                        .where(_A.state != "resolved")).all()
    return [Unresolved(int(r.id), str(r.rule), str(r.account_id), int(r.quiet_runs))
            for r in rows]


def _last_opened(conn: sa.Connection) -> dict[tuple[str, str], dt.date]:
    rows = conn.execute(sa.select(_A.account_id, _A.rule, sa.func.max(_A.first_as_of))
                        .group_by(_A.account_id, _A.rule)).all()
    return {(str(a), str(r)): d for a, r, d in rows}


def _apply(conn: sa.Connection, changes: Changes, run: RunView, previous: RunView | None,
           at: dt.datetime, read_opened: bool) -> list[Alert]:
    """Write the engine's changes, a statement per kind of change (executemany: a
    10,000-account run changes thousands of alerts); the alerts opened, as stored, when
    `read_opened` (for their webhooks)."""
    checked = {"checked_run_id": run.id, "checked_as_of": run.as_of, "updated_at": at}
    before = previous.id if previous else None
    if changes.opened:
        conn.execute(alerts.insert(), [{
            "rule": new.rule.name if new.rule else STALE_RULE,
            "account_id": new.account.account_id if new.account else "",
            "account_name": new.account.name if new.account else "",
            "csm_owner": new.account.csm_owner if new.account else "", "owner": new.owner,
            "severity": new.severity, "state": "open", "outcome": None, "title": new.title,
            "first_run_id": run.id, "first_as_of": run.as_of, "run_id": run.id,
            "previous_run_id": before, "quiet_runs": 0, "model_version": run.model_version,
            "probability": new.account.probability if new.account else None,
            "risk_change": new.risk_change,
            "renewal_date": new.account.renewal_date if new.account else None,
            "signals": new.signals, "facts": new.facts, "opened_at": at, "note": "",
            **checked} for new in changes.opened])
    if changes.kept:
        # The renewal date stays the one the alert warned of (the track record's match).
        kept_values = ("probability", "risk_change", "signals", "facts")
        conn.execute(alerts.update().where(_A.id == sa.bindparam("kept_id")).values(
            run_id=run.id, previous_run_id=before, quiet_runs=0,
            model_version=run.model_version, **checked,
            **{name: sa.bindparam(f"kept_{name}") for name in kept_values}),
            [{"kept_id": kept.id, "kept_risk_change": kept.risk_change,
              "kept_signals": kept.signals, "kept_facts": kept.facts,
              "kept_probability": kept.account.probability if kept.account else None}
             for kept in changes.kept])
    by_quiet: dict[int, list[int]] = {}
    for alert_id, quiet in changes.quieted:
        by_quiet.setdefault(quiet, []).append(alert_id)
    for quiet, ids in sorted(by_quiet.items()):
        conn.execute(alerts.update().where(_A.id.in_(ids)).values(quiet_runs=quiet,
                                                                  **checked))
    if changes.resolved:
        conn.execute(alerts.update().where(_A.id.in_(changes.resolved)).values(
            state="resolved", outcome="cleared", resolved_at=at, snoozed_until=None,
            **checked))
    if not changes.opened or not read_opened:
        return []
    # This run is evaluated once (alert_evaluations), so what it first raised is new.
    rows = conn.execute(sa.select(alerts).where(_A.first_run_id == run.id)
                        .order_by(_A.id)).all()
    return [alert_of(r) for r in rows]


def alert_of(row: sa.Row[Any]) -> Alert:
    """An alert as stored, from its row of the `alerts` table."""
    m = row._mapping
    return Alert(**{k: m[k] for k in Alert.__dataclass_fields__ if k not in ("signals",
                                                                            "facts")},
                 signals=tuple(m["signals"] or ()), facts=dict(m["facts"] or {}))


