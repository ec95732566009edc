"""The score store's PostgreSQL server stopped mid-traffic, then started again.

A real uvicorn server reads a real PostgreSQL server of the test's own while a client
keeps asking for an account. Stopping the database must turn answers into 503s that say
what is wrong (never a 500, never a hang), `/readyz` must say the store is unreachable,
and once the database is back the same process must answer 200 again, with no restart.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

from api_keys import auth
from books import JAN, book
from live_server import live_server
from web_support import keyring_of_test_keys

from serving.api import create_app
from serving.http.openapi import example_features
from serving.model_holder import ModelHolder
from serving.store.score_store import ScoreStore

ACCOUNT = "a1"


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={
        **auth("scorer"), "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _example(model) -> dict:
    return {"accounts": [{"account_id": ACCOUNT, "as_of": "2025-01-01",
                          "features": example_features(model.contract)}]}


class _Traffic(threading.Thread):
    """Asks for one account over and over; keeps every (status, detail) it got."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.seen, self.stop = url, [], threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            status, body = _get(self.url, auth("viewer"))
            self.seen.append((status, body.get("detail")))
            time.sleep(0.02)

    def wait_for(self, status: int, seconds: float = 60) -> None:
        start = len(self.seen)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(s == status for s, _ in self.seen[start:]):
                return
            time.sleep(0.05)
        raise AssertionError(f"no {status} within {seconds} s: {self.seen[-5:]}")


def test_a_stopped_database_is_a_503_then_recovers_without_a_restart(
        postgres_cluster, trained_model, isolated_settings):
    cluster, url = postgres_cluster
    store = ScoreStore(url)
    store.write_run("7", JAN, book(JAN, {ACCOUNT: 0.4, "a2": 0.1}))
    app = create_app(isolated_settings.model_copy(update={"reload_interval": 0}),
                     holder=ModelHolder(lambda: (trained_model, "1")), store=store,
                     keyring=keyring_of_test_keys())
    with live_server(app) as base:
        traffic = _Traffic(f"{base}/v1/accounts/{ACCOUNT}")
        traffic.start()
        try:
            traffic.wait_for(200)
            cluster.stop()
            traffic.wait_for(503)
            ready_status, ready = _get(f"{base}/readyz")
            scored = _post(f"{base}/v1/score", _example(trained_model))  # needs no store
            cluster.resume()
            traffic.wait_for(200)
            after = len(traffic.seen)
            time.sleep(0.5)
        finally:
            traffic.stop.set()
            traffic.join(timeout=30)
    store.dispose()

    statuses = {status for status, _ in traffic.seen}
    assert statuses == {200, 503}, statuses  # never a 500
    outage = next(detail for status, detail in traffic.seen if status == 503)
    assert "score store" in outage and "Check that the database is up" in outage, outage
    assert "postgresql://" in outage and "password" not in outage.lower()
    assert ready_status == 503 and ready["store"] == "unreachable"
    assert scored[0] == 200, scored
    assert all(status == 200 for status, _ in traffic.seen[after:])  # recovered, and stays
