"""Webhook delivery to a real receiver on 127.0.0.1, every request verified with the
`standardwebhooks` package: retries, 410, Retry-After, dead letters, replay, a crash."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from books import JAN
from receiver import SECRET, receiver
from stored import config, write

from serving.alerts.book import AlertBook, AlertFilter
from serving.alerts.delivery import deliver_due, retry_after, sign
from serving.alerts.digest import SETTLE
from serving.alerts.outbox import replay
from serving.store.schema import alert_deliveries, webhook_endpoints


def _deliveries(store):
    with store._engine.connect() as conn:
        return conn.execute(sa.select(alert_deliveries).order_by(alert_deliveries.c.id)).all()


def _queue(store, url, accounts=1, **options):
    rules = config(url, secret=SECRET, **options)
    AlertBook(store).evaluate_run(rules, write(store, JAN, {f"a{i}": 0.40
                                                           for i in range(accounts)}))
    return rules


def test_the_signature_is_the_standard_one():
    # the example of the Standard Webhooks specification's reference implementations
    body = b'{"test": 2432232314}'
    assert sign(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")


def test_failed_attempts_are_retried_with_the_same_id_until_delivered(store):
    with receiver([(500, {}), (500, {})]) as hook:
        rules = _queue(store, hook.url, schedule="[0, 0, 0]")
        for _ in range(3):
            deliver_due(store, rules)
        assert len(hook.got) == 3 and all(r.verified for r in hook.got)
        assert len(set(hook.ids())) == 1
    (row,) = _deliveries(store)
    assert (row.state, row.attempts, row.last_status) == ("delivered", 3, 204)
    event = json.loads(hook.got[-1].body)
    assert event["type"] == "alert.opened" and event["data"]["rule"] == "high"


def test_a_spent_schedule_leaves_a_dead_letter_that_replay_sends_with_its_id(store):
    with receiver([(500, {})] * 3) as hook:
        rules = _queue(store, hook.url, schedule="[0, 0]")
        for _ in range(4):
            deliver_due(store, rules)
        (row,) = _deliveries(store)
        assert (row.state, row.attempts) == ("dead", 3)
        with store._engine.begin() as conn:
            assert replay(conn, dead=True, at=dt.datetime.now(dt.UTC)) == 1
        deliver_due(store, rules)
        assert hook.ids() == [row.message_id] * 4 and hook.got[-1].verified
    assert _deliveries(store)[0].state == "delivered"


def test_retry_after_is_honoured(store):
    with receiver([(503, {"Retry-After": "120"})]) as hook:
        rules = _queue(store, hook.url, schedule="[5]")
        start = dt.datetime.now(dt.UTC)
        assert deliver_due(store, rules, now=lambda: start).retried == 1
        assert deliver_due(store, rules, now=lambda: start + dt.timedelta(seconds=60)
                           ).delivered == 0
        assert deliver_due(store, rules, now=lambda: start + dt.timedelta(seconds=121)
                           ).delivered == 1
        assert len(hook.got) == 2
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT",
                       dt.datetime(2015, 10, 21, 7, 27, tzinfo=dt.UTC)) == 60


def test_410_disables_the_endpoint_until_it_is_replayed(store):
    with receiver([(410, {})]) as hook:
        rules = _queue(store, hook.url, accounts=3)
        done = deliver_due(store, rules, limit=1)
        assert done.dead == 1
        assert deliver_due(store, rules).delivered == 0  # the others died with it
        assert len(hook.got) == 1
        assert [r.state for r in _deliveries(store)] == ["dead"] * 3
        with store._engine.begin() as conn:
            assert replay(conn, dead=True, endpoint="crm", at=dt.datetime.now(dt.UTC)) == 3
            assert conn.execute(sa.select(webhook_endpoints)).first() is None
        assert deliver_due(store, rules).delivered == 3
        assert all(r.verified for r in hook.got)


def test_a_slack_endpoint_gets_text_and_blocks(store):
    with receiver() as hook:
        rules = _queue(store, hook.url, fmt="slack")
        deliver_due(store, rules)
        message = json.loads(hook.got[0].body)
    assert "Risk entered the high band" in message["text"]
    assert message["blocks"][0]["type"] == "section"


def test_a_worker_killed_between_send_and_commit_sends_again_with_the_same_id(
        tmp_path: Path, store_url, store):
    """The real command is killed (SIGKILL) while the receiver holds its request; the next
    worker, once the claim lapses, delivers the same webhook-id again."""
    with receiver() as hook:
        rules_file = tmp_path / "alerts.yaml"
        rules = _queue(store, hook.url, schedule="[0]")
        rules_file.write_text(
            f"rules:\n  - name: high\n    title: High\n    when: {{band: {{at_least: high}}}}\n"
            f"endpoints:\n  - name: crm\n    url: {hook.url}\n    secret: {SECRET}\n")
        pid_file = tmp_path / "worker.pid"

        def kill_worker(_got):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)

        hook.on_request = kill_worker
        code = ("import os, sys, pathlib; pathlib.Path(sys.argv[1]).write_text(str(os.getpid()));"
                "sys.argv = ['churnlens'] + sys.argv[2:]; from serving.cli import main; main()")
        env = {**os.environ, "CHURNLENS_HOME": str(tmp_path),
               "CHURNLENS_SCORE_STORE_URL": store_url}
        worker = subprocess.run([sys.executable, "-c", code, str(pid_file), "alerts",
                                 "deliver", "--rules", str(rules_file)],
                                env=env, capture_output=True, timeout=60)
        assert worker.returncode == -signal.SIGKILL
        (row,) = _deliveries(store)
        assert row.state == "pending" and row.attempts == 0  # sent, never recorded
        hook.on_request = None
        assert deliver_due(store, rules).delivered == 0  # still claimed by the dead worker
        later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
        assert deliver_due(store, rules, now=lambda: later).delivered == 1
        assert hook.ids() == [row.message_id, row.message_id]
        assert all(r.verified for r in hook.got)


@pytest.mark.parametrize("value", ["", "soon", None])
def test_a_retry_after_that_is_no_time_is_ignored(value):
    assert retry_after(value) is None


@pytest.mark.parametrize("fmt", ["standard", "slack"])
def test_a_daily_digest_lists_each_owners_alerts_of_the_day_once(store, fmt):
    with receiver() as got:
        rules = config(got.url, secret=SECRET, digest="daily", fmt=fmt)
        now = dt.datetime.now(dt.UTC)  # signatures are checked against the real clock
        yesterday = (now - SETTLE).date() - dt.timedelta(days=1)
        day = dt.datetime.combine(yesterday, dt.time(12), dt.UTC)
        _, summary = AlertBook(store).evaluate_run(rules, write(
            store, JAN, {"a": 0.40, "b": 0.40, "c": 0.40}, owners={"c": "bob"},
            facts={"a": {"nps": 3}, "b": {"nps": 9}, "c": {"nps": 9}}), now=day)
        assert summary["deliveries"] == 0  # no message per alert
        later_that_day = deliver_due(store, rules, now=lambda: day + dt.timedelta(hours=11))
        assert later_that_day.delivered == 0 and got.got == []  # the day is not over
        midnight = dt.datetime.combine(yesterday + dt.timedelta(days=1), dt.time(), dt.UTC)
        early = deliver_due(store, rules, now=lambda: midnight + SETTLE / 2)
        assert early.delivered == 0 and got.got == []  # it is, but may still be written
        next_day = now
        assert deliver_due(store, rules, now=lambda: next_day).delivered == 2  # ana, bob
        assert deliver_due(store, rules, now=lambda: next_day).delivered == 0  # queued once
    assert len(got.got) == 2 and all(r.verified for r in got.got)
    bodies = [json.loads(r.body) for r in got.got]
    if fmt == "standard":
        by_owner = {b["data"]["owner"]: b["data"] for b in bodies}
        assert {o: d["count"] for o, d in by_owner.items()} == {"ana": 3, "bob": 1}
        assert by_owner["ana"]["day"] == yesterday.isoformat()
        assert all(b["type"] == "alert.digest" for b in bodies)
        assert sorted(a["account_id"] for a in by_owner["ana"]["alerts"]) == ["a", "a", "b"]
    else:
        texts = sorted(b["text"] for b in bodies)
        assert texts == [f"1 new churnlens alert(s) for bob on {yesterday}",
                         f"3 new churnlens alert(s) for ana on {yesterday}"]
        assert all(b["blocks"][0]["type"] == "section" for b in bodies)
    keys = {r.digest_key for r in _deliveries(store)}
    assert keys == {f"crm:ana:{yesterday}", f"crm:bob:{yesterday}"}


def test_a_digest_queued_by_another_worker_meanwhile_is_not_queued_twice(store):
    from serving.alerts.digest import queue_digests

    rules = config("http://127.0.0.1:9/hook", secret=SECRET, digest="daily")
    now = dt.datetime.now(dt.UTC)
    yesterday = (now - SETTLE).date() - dt.timedelta(days=1)
    AlertBook(store).evaluate_run(rules, write(store, JAN, {"a": 0.40}),
                                  now=dt.datetime.combine(yesterday, dt.time(12), dt.UTC))
    (alert,) = AlertBook(store).list(AlertFilter())[0]
    with store._engine.begin() as conn:  # as if another worker wrote it after our read
        conn.execute(alert_deliveries.insert().values(
            alert_id=None, digest_key=f"crm:ana:{yesterday}", endpoint="crm",
            message_id="msg_other", event="alert.digest", body="{}", state="pending",
            attempts=0, next_attempt_at=now, created_at=now - dt.timedelta(days=30)))
    assert queue_digests(store, rules, now) == 0
    assert [r.message_id for r in _deliveries(store)] == ["msg_other"]
    assert alert.rule == "high"
