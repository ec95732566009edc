"""The alert inbox over HTTP: filters, pages, a book key's reach, actions, audit, metrics,
and the delivery worker the server runs in the background."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from books import JAN
from fastapi.testclient import TestClient
from receiver import SECRET, receiver
from stored import config, config_text, write

from features.settings import Settings
from serving.alerts.book import AlertBook, AlertFilter
from serving.api import create_app
from serving.auth import KeyRing, grant_for
from serving.http.schemas import AlertOut, AlertPage
from serving.model_holder import ModelHolder
from serving.store.audit import AuditLog
from serving.store.score_store import ScoreStore

KEYS = {"scorer": "alerts-scorer-key-0123456789", "viewer": "alerts-viewer-key-0123456789",
        "bob": "alerts-bob-key-0123456789abcd", "admin": "alerts-admin-key-0123456789a"}


def auth(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[who]}"}


def _unavailable():
    raise RuntimeError("no model in these tests")


def _app(store: ScoreStore, home, deliver: bool = False):
    ring = KeyRing([grant_for("scorer", KEYS["scorer"], label="app"),
                    grant_for("viewer", KEYS["viewer"], label="all"),
                    grant_for("viewer", KEYS["bob"], label="bob", book=frozenset({"bob"}),
                              csms=("bob",)),
                    grant_for("admin", KEYS["admin"], label="ops")])
    return create_app(Settings(home=home, reload_interval=0),
                      holder=ModelHolder(_unavailable), store=store, keyring=ring,
                      deliver=deliver)


@pytest.fixture
def inbox(tmp_path):
    """Three alerts: a (ana) high and detractor, b (bob) high."""
    store = ScoreStore(f"sqlite:///{tmp_path / 'scores.db'}")
    AlertBook(store).evaluate_run(config(), write(
        store, JAN, {"a": 0.40, "b": 0.40, "c": 0.05}, owners={"b": "bob"},
        facts={"a": {"nps": 3}, "b": {"nps": 9}, "c": {"nps": 9}}))
    with TestClient(_app(store, tmp_path)) as client:
        client.store = store  # type: ignore[attr-defined]
        yield client
    store.dispose()


def _ids(client, who="viewer", **params):
    answer = client.get("/v1/alerts", params=params, headers=auth(who))
    assert answer.status_code == 200, answer.text
    page = AlertPage.model_validate(answer.json())
    return [(a.account_id, a.rule) for a in page.alerts], page.total


def test_the_inbox_lists_and_filters_alerts_newest_first(inbox):
    listed, total = _ids(inbox)
    assert total == 3 and sorted(listed) == [("a", "detractor"), ("a", "high"), ("b", "high")]
    assert _ids(inbox, rule="detractor") == ([("a", "detractor")], 1)
    assert _ids(inbox, severity="critical")[1] == 2
    assert _ids(inbox, owner="bob") == ([("b", "high")], 1)
    assert _ids(inbox, state="resolved") == ([], 0)
    assert _ids(inbox, account_id="a")[1] == 2
    second, total = _ids(inbox, page=2, per_page=2)
    assert total == 3 and len(second) == 1
    bad = inbox.get("/v1/alerts", params={"state": "closed"}, headers=auth("viewer"))
    assert bad.status_code == 422 and "state" in bad.json()["detail"]


def test_a_book_key_sees_and_acts_on_its_own_alerts_only(inbox):
    assert _ids(inbox, "bob") == ([("b", "high")], 1)
    listed = inbox.get("/v1/alerts", headers=auth("viewer")).json()["alerts"]
    alert_of = {(a["account_id"], a["rule"]): a["id"] for a in listed}
    refused = inbox.post(f"/v1/alerts/{alert_of[('a', 'high')]}/ack", headers=auth("bob"))
    assert refused.status_code == 404
    assert AlertBook(inbox.store).get(alert_of[("a", "high")]).state == "open"
    mine = inbox.post(f"/v1/alerts/{alert_of[('b', 'high')]}/ack", headers=auth("bob"))
    assert mine.status_code == 200 and mine.json()["state"] == "acknowledged"


def test_roles_and_keys(inbox):
    assert inbox.get("/v1/alerts").status_code == 401
    assert inbox.get("/v1/alerts", headers=auth("scorer")).status_code == 403
    assert inbox.post("/v1/alerts/1/ack", headers=auth("scorer")).status_code == 403
    assert inbox.get("/v1/alerts", headers=auth("admin")).status_code == 200


def test_ack_snooze_resolve_with_clear_errors_and_an_audit_trail(inbox):
    (first,), _ = AlertBook(inbox.store).list(AlertFilter(account_id="b"))
    path = f"/v1/alerts/{first.id}"
    acked = inbox.post(f"{path}/ack", json={"note": "called the sponsor"},
                       headers=auth("viewer"))
    assert acked.status_code == 200
    assert AlertOut.model_validate(acked.json()).note == "called the sponsor"
    for days in (0, 366, 2.5, None):
        refused = inbox.post(f"{path}/snooze", json={"days": days}, headers=auth("viewer"))
        assert refused.status_code == 422 and "days" in refused.json()["detail"], days
    snoozed = inbox.post(f"{path}/snooze", json={"days": 7}, headers=auth("viewer"))
    today = dt.datetime.now(dt.UTC).date()
    assert snoozed.json()["state"] == "snoozed"
    assert snoozed.json()["snoozed_until"] in {(today + dt.timedelta(days=d)).isoformat()
                                              for d in (7, 8)}  # 8 if midnight passed
    wrong = inbox.post(f"{path}/resolve", json={"outcome": "cleared"}, headers=auth("viewer"))
    assert wrong.status_code == 422 and "outcome" in wrong.json()["detail"]
    done = inbox.post(f"{path}/resolve", json={"outcome": "saved"}, headers=auth("viewer"))
    assert (done.json()["state"], done.json()["outcome"]) == ("resolved", "saved")
    again = inbox.post(f"{path}/ack", headers=auth("viewer"))
    assert again.status_code == 409 and "is resolved" in again.json()["detail"]
    assert inbox.post("/v1/alerts/999/ack", headers=auth("viewer")).status_code == 404
    events = [(e.action, e.label) for e in AuditLog(inbox.store).events()
              if e.action.startswith("alert_")]
    assert events == [("alert_ack", "all"), ("alert_snooze", "all"), ("alert_resolve", "all")]
    assert _ids(inbox, state="resolved")[1] == 1


def test_metrics_count_the_alerts_fired(inbox):
    text = inbox.get("/metrics").text
    assert 'churnlens_alerts_fired_total{rule="high",severity="critical"} 2.0' in text
    assert 'churnlens_alerts_fired_total{rule="detractor",severity="warning"} 1.0' in text


def test_the_server_delivers_queued_webhooks_in_the_background(tmp_path):
    store = ScoreStore(f"sqlite:///{tmp_path / 'scores.db'}")
    with receiver([(500, {})]) as got:
        (tmp_path / "alerts.yaml").write_text(config_text(got.url, secret=SECRET))
        AlertBook(store).evaluate_run(config(got.url, secret=SECRET),
                                      write(store, JAN, {"a": 0.40}))
        with TestClient(_app(store, tmp_path, deliver=True)) as client:
            deadline = time.monotonic() + 20
            while len(got.got) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            metrics = client.get("/metrics").text
    store.dispose()
    assert len(got.got) == 2 and all(r.verified for r in got.got)
    assert len(set(got.ids())) == 1  # the retry kept its webhook-id
    assert 'churnlens_alert_deliveries_total{result="failed"} 1.0' in metrics
    assert 'churnlens_alert_deliveries_total{result="delivered"} 1.0' in metrics


def test_endpoints_added_to_the_rules_while_serving_are_delivered_without_a_restart(tmp_path):
    store = ScoreStore(f"sqlite:///{tmp_path / 'scores.db'}")
    with receiver() as got, TestClient(_app(store, tmp_path, deliver=True)):
        time.sleep(0.5)  # the worker has read the shipped rules: no endpoints
        (tmp_path / "alerts.yaml").write_text(config_text(got.url, secret=SECRET))
        AlertBook(store).evaluate_run(config(got.url, secret=SECRET),
                                      write(store, JAN, {"a": 0.40}))
        deadline = time.monotonic() + 20
        while not got.got and time.monotonic() < deadline:
            time.sleep(0.1)
    store.dispose()
    assert len(got.got) == 1 and got.got[0].verified
