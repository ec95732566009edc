"""The delivery worker: sends due webhook deliveries, signed as Standard Webhooks says.

Each request carries `webhook-id` (the delivery's own, the same on every attempt),
`webhook-timestamp` (seconds, this attempt's) and `webhook-signature`
(`v1,` + base64 HMAC-SHA256 of "id.timestamp.body" under the endpoint's `whsec_` secret).
A 2xx answer delivers it; 410 Gone disables the endpoint (its pending deliveries die
with it until `churnlens alerts replay --endpoint`); anything else, or no answer, is
retried after the configured schedule with jitter, never sooner than a `Retry-After`
asks, and dies once the schedule is spent.

A delivery is *claimed* before it is sent (its next attempt moved past the request's
timeout, in a committed compare-and-set), so two workers never send it at once; a worker
killed after sending but before recording the answer leaves it claimed, and once the
claim lapses it is sent again with the same id: at least once, never under a new id.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import hmac
import logging
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from features.errors import ChurnlensError
from serving.alerts.digest import queue_digests
from serving.alerts.outbox import DEAD, DELIVERED, PENDING
from serving.alerts.rules import AlertConfig, Delivery, Endpoint
from serving.store.schema import alert_deliveries, webhook_endpoints
from serving.store.score_store import ScoreStore

log = logging.getLogger(__name__)

_D = alert_deliveries.c
CLAIM_MARGIN = 30.0  # seconds past the request timeout before a claim lapses
BATCH = 200
USER_AGENT = "churnlens-webhooks/1"


@dataclass(frozen=True)
class Answer:
    """What a receiver said: an HTTP status (None: no answer) and any Retry-After."""

    status: int | None
    retry_after: float | None = None
    error: str = ""


Send = Callable[[str, bytes, dict[str, str], float], Answer]


@dataclass
class Tally:
    delivered: int = 0
    retried: int = 0
    dead: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.delivered + other.delivered, self.retried + other.retried,
                     self.dead + other.dead)


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one attempt."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def http_send(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST with the standard library; an unreachable receiver is an answer of None."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status)
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, retry_after(exc.headers.get("Retry-After")),
                      f"HTTP {exc.code}")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Answer(None, error=f"no answer: {reason}")


def retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def next_wait(schedule: Delivery, attempts: int, answer: Answer,
              rng: random.Random) -> float | None:
    """Seconds before the next attempt after `attempts` failed ones; None: give up."""
    if attempts > len(schedule.retry_schedule):
        return None
    wait = schedule.retry_schedule[attempts - 1]
    wait *= 1 + rng.uniform(-schedule.jitter, schedule.jitter)
    if answer.retry_after is not None:
        wait = max(wait, answer.retry_after)
    return wait


def deliver_due(store: ScoreStore, config: AlertConfig, *, send: Send = http_send,
                now: Callable[[], dt.datetime] | None = None, limit: int = BATCH,
                rng: random.Random | None = None) -> Tally:
    """Queue the digests of finished days, then send the deliveries due now, at most
    `limit`; what became of them."""
    clock = now or (lambda: dt.datetime.now(dt.UTC))
    try:
        queue_digests(store, config, clock())
    except ChurnlensError as exc:  # digests wait for the next round; sending goes on
        log.warning("alert digests not queued this round: %s", exc)
    chance = rng or random.Random()
    endpoints = {e.name: e for e in config.endpoints}
    tally = Tally()
    with store._reading() as conn:
        due = conn.execute(sa.select(_D.id, _D.endpoint, _D.message_id, _D.body, _D.attempts,
                                     _D.next_attempt_at)
                           .where(_D.state == PENDING, _D.next_attempt_at <= clock())
                           .order_by(_D.next_attempt_at, _D.id).limit(limit)).all()
        disabled = set(conn.execute(sa.select(webhook_endpoints.c.name)).scalars())
    for row in due:
        endpoint = endpoints.get(row.endpoint)
        if endpoint is None or endpoint.name in disabled:
            why = ("the endpoint is no longer in the alert config" if endpoint is None
                   else "the endpoint is disabled (it answered 410 Gone)")
            _finish(store, row.id, DEAD, row.attempts, None, why, clock())
            tally.dead += 1
            continue
        if not _claim(store, row.id, row.next_attempt_at, clock(),
                      config.delivery.timeout_seconds):
            continue  # another worker has it
        tally += _attempt(store, config.delivery, endpoint, row, send, clock, chance)
    return tally


def run_worker(store: ScoreStore, rules: Callable[[], AlertConfig | None], *,
               interval: float = 5.0, stop: Callable[[], bool] = lambda: False,
               send: Send = http_send, observe: Callable[[Tally], None] = lambda tally: None
               ) -> Tally:
    """Deliver until `stop()` says so, polling every `interval` seconds when idle;
    `rules` gives the config each round (`rules.WatchedRules` re-reads an edited file),
    and a round without endpoints sends nothing. `observe` hears each round's tally (the
    server counts them for /metrics)."""
    total = Tally()
    while not stop():
        done = Tally()
        config = rules()
        if config is not None and config.endpoints:
            try:
                done = deliver_due(store, config, send=send)
            except ChurnlensError as exc:  # the store is down: try again next round
                log.warning("webhook delivery round failed: %s", exc)
            except Exception:  # a worker thread must outlive any one bad round
                log.exception("webhook delivery round failed unexpectedly")
        observe(done)
        total += done
        if done.delivered + done.retried + done.dead == 0:
            slept = 0.0
            while slept < interval and not stop():
                time.sleep(min(0.2, interval))
                slept += 0.2
    return total


def _attempt(store: ScoreStore, schedule: Delivery, endpoint: Endpoint, row: sa.Row,
             send: Send, clock: Callable[[], dt.datetime], rng: random.Random) -> Tally:
    body = row.body.encode()
    stamp = int(clock().timestamp())
    headers = {"content-type": "application/json", "user-agent": USER_AGENT,
               "webhook-id": row.message_id, "webhook-timestamp": str(stamp),
               "webhook-signature": sign(endpoint.secret, row.message_id, stamp, body)}
    answer = send(endpoint.url, body, headers, schedule.timeout_seconds)
    attempts = row.attempts + 1
    at = clock()
    if answer.status is not None and 200 <= answer.status < 300:
        _finish(store, row.id, DELIVERED, attempts, answer.status, None, at)
        return Tally(delivered=1)
    if answer.status == 410:
        _disable(store, endpoint.name, at)
        _finish(store, row.id, DEAD, attempts, 410, "410 Gone: endpoint disabled", at)
        log.warning("webhook endpoint %s answered 410 Gone: disabled; `churnlens alerts "
                    "replay --endpoint %s` enables it again", endpoint.name, endpoint.name)
        return Tally(dead=1)
    error = answer.error or f"HTTP {answer.status}"
    wait = next_wait(schedule, attempts, answer, rng)
    if wait is None:
        _finish(store, row.id, DEAD, attempts, answer.status, error, at)
        log.warning("delivery %s to %s dead after %d attempts: %s", row.message_id,
                    endpoint.name, attempts, error)
        return Tally(dead=1)
    with store._writing("Recording a webhook attempt") as conn:
        conn.execute(alert_deliveries.update().where(_D.id == row.id).values(
            attempts=attempts, last_status=answer.status, last_error=error,
            next_attempt_at=at + dt.timedelta(seconds=wait)))
    return Tally(retried=1)


def _claim(store: ScoreStore, delivery_id: int, due: dt.datetime, at: dt.datetime,
           timeout: float) -> bool:
    lapse = at + dt.timedelta(seconds=timeout + CLAIM_MARGIN)
    with store._writing("Claiming a webhook delivery") as conn:
        return bool(conn.execute(alert_deliveries.update().where(
            _D.id == delivery_id, _D.state == PENDING, _D.next_attempt_at == due)
            .values(next_attempt_at=lapse)).rowcount)


def _finish(store: ScoreStore, delivery_id: int, state: str, attempts: int,
            status: int | None, error: str | None, at: dt.datetime) -> None:
    with store._writing("Recording a webhook delivery") as conn:
        conn.execute(alert_deliveries.update().where(_D.id == delivery_id).values(
            state=state, attempts=attempts, last_status=status, last_error=error,
            delivered_at=at if state == DELIVERED else None))


def _disable(store: ScoreStore, name: str, at: dt.datetime) -> None:
    with store._writing("Disabling a webhook endpoint") as conn:
        if conn.execute(sa.select(webhook_endpoints.c.name).where(
                webhook_endpoints.c.name == name)).first() is None:
            conn.execute(webhook_endpoints.insert().values(
                name=name, disabled_at=at, reason="answered 410 Gone"))
        conn.execute(alert_deliveries.update().where(
            _D.endpoint == name, _D.state == PENDING).values(
            state=DEAD, last_error="the endpoint is disabled (it answered 410 Gone)"))



class BackgroundDelivery:
    """The delivery worker on a daemon thread, as `churnlens serve` runs it."""

    def __init__(self, store: ScoreStore, rules: Callable[[], AlertConfig | None], *,
                 interval: float = 5.0,
                 observe: Callable[[Tally], None] = lambda tally: None) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=run_worker, name="webhook-delivery", daemon=True,
            args=(store, rules), kwargs={"interval": interval, "stop": self._stop.is_set,
                                         "observe": observe})

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the worker to stop after its current delivery, and wait for it."""
        self._stop.set()
        self._thread.join(timeout)
