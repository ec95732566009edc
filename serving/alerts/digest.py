"""Daily digests: one webhook message per owner and UTC day, listing the day's new alerts.

An endpoint with `digest: daily` gets no message per alert. Once a UTC day is over, the
delivery worker queues one delivery per owner with alerts opened that day that the
endpoint wants, and sends it like any other (signed, retried, replayable). Each digest
has a key (endpoint, owner, day) that the store holds unique, so a day is queued once
however many workers look, `SETTLE` after it ends (so an evaluation running at midnight
has committed its alerts); days up to `LOOKBACK_DAYS` back are caught up after downtime.
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
from serving.store.models import ScoreStoreError
from serving.store.schema import alert_deliveries, alerts
from serving.store.score_store import ScoreStore

DIGEST = "alert.digest"
LOOKBACK_DAYS = 7
SETTLE = dt.timedelta(minutes=15)
SLACK_LINES = 20  # alerts listed in a Slack digest; the rest are counted
_A, _D = alerts.c, alert_deliveries.c


def queue_digests(store: ScoreStore, config: AlertConfig, now: dt.datetime) -> int:
    """Queue the digests of the finished days not yet queued; how many."""
    daily = [e for e in config.endpoints if e.digest == "daily"]
    if not daily:
        return 0
    # A day's digest waits a while after midnight, so alerts of an evaluation still
    # being written at midnight are in it: it is queued once only.
    today = (now.astimezone(dt.UTC) - SETTLE).date()
    since = dt.datetime.combine(today - dt.timedelta(days=LOOKBACK_DAYS), dt.time(),
                                dt.UTC)
    until = dt.datetime.combine(today, dt.time(), dt.UTC)
    window = (_A.opened_at >= since, _A.opened_at < until)
    with store._reading() as conn:  # the light columns first: this runs every round
        heads = conn.execute(sa.select(_A.id, _A.rule, _A.severity, _A.owner, _A.opened_at)
                             .where(*window).order_by(_A.id)).all()
        queued = set(conn.execute(sa.select(_D.digest_key).where(
            _D.digest_key.is_not(None), _D.created_at >= since)).scalars())
        disabled = disabled_endpoints(conn)
    by_name = {e.name: e for e in daily if e.name not in disabled}
    due: dict[tuple[str, str, dt.date], list[int]] = {}
    for name, endpoint in by_name.items():
        for head in heads:
            day = head.opened_at.astimezone(dt.UTC).date()
            if (endpoint.wants(head.rule, head.severity, head.owner)
                    and _key(name, head.owner, day) not in queued):
                due.setdefault((name, head.owner, day), []).append(head.id)
    if not due:
        return 0
    wanted = sorted({i for ids in due.values() for i in ids})
    with store._reading() as conn:
        full = {r.id: alert_of(r) for r in conn.execute(
            sa.select(alerts).where(_A.id.in_(wanted))).all()}
    rows = [{"alert_id": None, "digest_key": _key(name, owner, day), "endpoint": name,
             "message_id": message_id(), "event": DIGEST,
             "body": digest_body(by_name[name], owner, day, [full[i] for i in ids], now),
             "state": PENDING, "attempts": 0, "next_attempt_at": now, "created_at": now}
            for (name, owner, day), ids in sorted(due.items())]
    try:
        with store._writing("Queueing alert digests") as conn:
            conn.execute(alert_deliveries.insert(), rows)
    except ScoreStoreError as exc:
        if not isinstance(exc.__cause__, sa.exc.IntegrityError):
            raise
        keys = [r["digest_key"] for r in rows]
        with store._reading() as conn:
            there = set(conn.execute(sa.select(_D.digest_key).where(
                _D.digest_key.in_(keys))).scalars())
        if not there:
            raise  # not another worker's digests: a real failure
        return 0  # another worker queued them first; the rest come next round
    return len(rows)


def _key(endpoint: str, owner: str, day: dt.date) -> str:
    return f"{endpoint}:{owner}:{day.isoformat()}"


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
