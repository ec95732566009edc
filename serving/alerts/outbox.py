"""The webhook outbox: deliveries written with the alerts that cause them, sent later.

Scoring never waits on a receiver. Evaluating a run writes one delivery per alert opened
and endpoint subscribed to it, in the same transaction as the alert (`enqueue`); the
worker (`serving.alerts.delivery`) sends them. Each delivery has its `webhook-id` from
the start, so every retry, a redelivery after a crash and a replay carry the same id and a
receiver can drop duplicates. States: pending (due at `next_attempt_at`), delivered, dead.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from serving.alerts.rules import AlertConfig, Endpoint
from serving.store.schema import alert_deliveries, webhook_endpoints

if TYPE_CHECKING:
    from serving.alerts.book import Alert

OPENED = "alert.opened"
PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
_D = alert_deliveries.c


def message_id() -> str:
    """A new webhook-id: unique, header-safe, stable across every attempt of a message."""
    return "msg_" + secrets.token_hex(12)


def enqueue(conn: sa.Connection, config: AlertConfig, opened: Sequence[Alert],
            at: dt.datetime) -> int:
    """One pending delivery per alert opened and endpoint that wants it (but digest
    endpoints, `serving.alerts.digest`); how many."""
    disabled = disabled_endpoints(conn)
    rows = []
    for alert in opened:
        for endpoint in config.endpoints:
            if (endpoint.name in disabled or endpoint.digest != "none"
                    or not endpoint.wants(alert.rule, alert.severity, alert.owner)):
                continue
            rows.append({"alert_id": alert.id, "endpoint": endpoint.name,
                         "message_id": message_id(), "event": OPENED,
                         "body": body(endpoint, alert, at), "state": PENDING, "attempts": 0,
                         "next_attempt_at": at, "created_at": at})
    if rows:
        conn.execute(alert_deliveries.insert(), rows)
    return len(rows)


def body(endpoint: Endpoint, alert: Alert, at: dt.datetime) -> str:
    """The request body: a Standard Webhooks event, or a Slack incoming-webhook message."""
    if endpoint.format == "slack":
        return json.dumps(slack_message(alert), ensure_ascii=False)
    return json.dumps({"type": OPENED, "timestamp": at.isoformat(), "data": alert.to_json()},
                      ensure_ascii=False)


def slack_message(alert: Alert) -> dict[str, Any]:
    """Text for notifications, blocks for the channel."""
    who = alert.account_name or alert.account_id or "churnlens data"
    risk = "" if alert.probability is None else f" — risk {100 * alert.probability:.0f}%"
    change = "" if alert.risk_change is None else f" ({alert.risk_change:+.0f} pts)"
    text = f"[{alert.severity}] {who}: {alert.title}{risk}{change}"
    lines = [f"*{alert.title}*", f"{who}{risk}{change}",
             f"Owner: {alert.owner} · renewal {alert.renewal_date or 'unknown'}"]
    moved = ", ".join(f"{s['signal']} {s['change']:+.2f}" for s in alert.signals)
    if moved:
        lines.append(f"Moved since the last run: {moved}")
    return {"text": text, "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}]}


def disabled_endpoints(conn: sa.Connection) -> set[str]:
    return set(conn.execute(sa.select(webhook_endpoints.c.name)).scalars())


def replay(conn: sa.Connection, *, delivery_ids: Sequence[int] = (), dead: bool = False,
           endpoint: str | None = None, at: dt.datetime) -> int:
    """Queue deliveries again with their own webhook-id; how many. `dead` takes every dead
    one (of `endpoint`, if given); a replayed endpoint that was disabled is enabled."""
    where: list[sa.ColumnElement[bool]] = []
    if delivery_ids:
        where.append(_D.id.in_(list(delivery_ids)))
    if dead:
        where.append(_D.state == DEAD)
    if endpoint is not None:
        where.append(_D.endpoint == endpoint)
        conn.execute(webhook_endpoints.delete().where(webhook_endpoints.c.name == endpoint))
    if not where:
        return 0
    return int(conn.execute(alert_deliveries.update().where(*where).values(
        state=PENDING, attempts=0, next_attempt_at=at, last_error=None)).rowcount)
