"""Daily digests: one webhook message per owner and UTC day, listing the day's new alerts.

An endpoint with `digest: daily` gets no message per alert. Once a UTC day is over, the
delivery worker queues one delivery per owner with alerts opened that day that the
endpoint wants, and sends it like any other (signed, retried, replayable). Each digest
has a key (endpoint, owner, day) that the store holds unique, so a day is queued once
however many workers look; days up to `LOOKBACK_DAYS` back are caught up after downtime.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from serving.alerts.book import Alert, alert_of
from serving.alerts.outbox import PENDING, disabled_endpoints, message_id
from serving.alerts.rules import AlertConfig, Endpoint
from serving.store.schema import alert_deliveries, alerts
from serving.store.score_store import ScoreStore

DIGEST = "alert.digest"
LOOKBACK_DAYS = 7
SLACK_LINES = 20  # alerts listed in a Slack digest; the rest are counted
_A, _D = alerts.c, alert_deliveries.c


def queue_digests(store: ScoreStore, config: AlertConfig, now: dt.datetime) -> int:
    """Queue the digests of the finished days not yet queued; how many."""
    daily = [e for e in config.endpoints if e.digest == "daily"]
    if not daily:
        return 0
    today = now.astimezone(dt.UTC).date()
    since = dt.datetime.combine(today - dt.timedelta(days=LOOKBACK_DAYS), dt.time(),
                                dt.UTC)
    until = dt.datetime.combine(today, dt.time(), dt.UTC)
    with store._reading() as conn:
        opened = [alert_of(r) for r in conn.execute(
            sa.select(alerts).where(_A.opened_at >= since, _A.opened_at < until)
            .order_by(_A.id)).all()]
        queued = set(conn.execute(sa.select(_D.digest_key).where(
            _D.digest_key.is_not(None), _D.created_at >= since)).scalars())
        disabled = disabled_endpoints(conn)
    rows = []
    for endpoint in daily:
        if endpoint.name in disabled:
            continue
        groups: dict[tuple[str, dt.date], list[Alert]] = {}
        for alert in opened:
            if endpoint.wants(alert.rule, alert.severity, alert.owner):
                day = alert.opened_at.astimezone(dt.UTC).date()
                groups.setdefault((alert.owner, day), []).append(alert)
        for (owner, day), listed in sorted(groups.items()):
            key = f"{endpoint.name}:{owner}:{day.isoformat()}"
            if key in queued:
                continue
            rows.append({"alert_id": None, "digest_key": key, "endpoint": endpoint.name,
                         "message_id": message_id(), "event": DIGEST,
                         "body": digest_body(endpoint, owner, day, listed, now),
                         "state": PENDING, "attempts": 0, "next_attempt_at": now,
                         "created_at": now})
    if not rows:
        return 0
    try:
        with store._writing("Queueing alert digests") as conn:
            conn.execute(alert_deliveries.insert(), rows)
    except sa.exc.IntegrityError:
        return 0  # another worker queued them first; their keys are unique
    return len(rows)


def digest_body(endpoint: Endpoint, owner: str, day: dt.date, listed: Sequence[Alert],
                now: dt.datetime) -> str:
    """A Standard Webhooks event listing the alerts, or a Slack message."""
    if endpoint.format == "slack":
        return json.dumps(_slack(owner, day, listed), ensure_ascii=False)
    return json.dumps({"type": DIGEST, "timestamp": now.isoformat(), "data": {
        "owner": owner, "day": day.isoformat(), "count": len(listed),
        "alerts": [a.to_json() for a in listed]}}, ensure_ascii=False)


def _slack(owner: str, day: dt.date, listed: Sequence[Alert]) -> dict[str, Any]:
    text = f"{len(listed)} new churnlens alert(s) for {owner} on {day.isoformat()}"
    lines = [f"*{text}*"]
    for alert in listed[:SLACK_LINES]:
        risk = "" if alert.probability is None else f" — risk {100 * alert.probability:.0f}%"
        lines.append(f"• [{alert.severity}] {alert.account_name or 'data'}: "
                     f"{alert.title}{risk}")
    if len(listed) > SLACK_LINES:
        lines.append(f"… and {len(listed) - SLACK_LINES} more in the Alerts inbox")
    return {"text": text, "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}]}
