"""Alerts in the score store, on SQLite and PostgreSQL: evaluation, lifecycle, filters."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from books import FEB, JAN, MAR
from stored import config, write

from serving.alerts.book import AlertBook, AlertError, AlertFilter
from serving.store.schema import alert_deliveries, alerts


def test_evaluating_a_run_opens_alerts_and_a_repeat_changes_nothing(store):
    write(store, JAN, {"a": 0.05, "b": 0.05})
    run = write(store, FEB, {"a": 0.40, "b": 0.05})
    book = AlertBook(store)
    found, first = book.evaluate_run(config(), run)
    assert found.id == run and first["opened"] == 1
    again = book.evaluate_run(config(), run)[1]
    assert again["repeat"] is True and again["opened"] == 1
    listed, total = book.list(AlertFilter(state="unresolved"))
    assert total == 1
    alert = listed[0]
    assert (alert.rule, alert.account_id, alert.state, alert.owner) == ("high", "a", "open",
                                                                        "ana")
    assert alert.first_run_id == run and alert.previous_run_id is not None
    assert alert.risk_change == pytest.approx(35.0)
    assert alert.model_version == "7" and alert.renewal_date is not None


def test_an_older_run_is_refused_once_a_newer_one_was_evaluated(store):
    older = write(store, JAN, {"a": 0.40})
    newer = write(store, FEB, {"a": 0.40})
    book = AlertBook(store)
    book.evaluate_run(config(), newer)
    with pytest.raises(AlertError, match="alerts only move forward in time"):
        book.evaluate_run(config(), older)


def test_a_holding_alert_is_updated_and_resolves_after_quiet_runs(store):
    book = AlertBook(store)
    for as_of, p in ((JAN, 0.40), (FEB, 0.50), (MAR, 0.05)):
        book.evaluate_run(config(), write(store, as_of, {"a": p}))
    (alert,), _ = book.list(AlertFilter(state="unresolved"))
    # updated while it held (February), one quiet run (March) so far
    assert alert.probability == pytest.approx(0.5) and alert.first_as_of == JAN
    book.evaluate_run(config(), write(store, dt.date(2025, 4, 1), {"a": 0.05}))
    (alert,), _ = book.list(AlertFilter(state="resolved"))
    assert alert.outcome == "cleared"


def test_one_unresolved_alert_per_account_and_rule_is_enforced_by_the_database(store):
    book = AlertBook(store)
    book.evaluate_run(config(), write(store, JAN, {"a": 0.40}))
    with store._engine.connect() as conn:
        row = dict(conn.execute(sa.select(alerts)).first()._mapping)
    row.pop("id")
    with pytest.raises(sa.exc.IntegrityError), store._engine.begin() as conn:
        conn.execute(alerts.insert().values(**row))


def test_ack_snooze_and_resolve_and_a_snooze_expires(store):
    book = AlertBook(store)
    book.evaluate_run(config(), write(store, JAN, {"a": 0.40}))
    (alert,), _ = book.list(AlertFilter())
    today = dt.date(2026, 12, 5)
    assert book.act(alert.id, "ack", today=today).state == "acknowledged"
    with pytest.raises(AlertError, match="until a day after today"):
        book.act(alert.id, "snooze", until=today, today=today)
    snoozed = book.act(alert.id, "snooze", until=today + dt.timedelta(days=3), today=today)
    assert (snoozed.state, snoozed.snoozed_until) == ("snoozed", dt.date(2026, 12, 8))
    assert book.get(alert.id, dt.date(2026, 12, 7)).state == "snoozed"
    woke = book.get(alert.id, dt.date(2026, 12, 8))
    assert (woke.state, woke.snoozed_until) == ("open", None)
    with pytest.raises(AlertError, match="with an outcome"):
        book.act(alert.id, "resolve", outcome="cleared", today=today)
    done = book.act(alert.id, "resolve", outcome="saved", note="QBR booked", today=today)
    assert (done.state, done.outcome, done.note) == ("resolved", "saved", "QBR booked")
    with pytest.raises(AlertError, match="is resolved"):
        book.act(alert.id, "ack", today=today)


def test_filters_and_the_readers_book(store):
    facts = {"a": {"nps": 3}, "b": {"nps": 9}}
    book = AlertBook(store)
    book.evaluate_run(config(), write(store, JAN, {"a": 0.40, "b": 0.40}, facts=facts))
    assert book.list(AlertFilter(rule="detractor"))[1] == 1
    assert book.list(AlertFilter(severity="critical"))[1] == 2
    assert book.list(AlertFilter(owner="ana"))[1] == 3
    assert book.list(AlertFilter(scope=frozenset({"ana"})))[1] == 3
    assert book.list(AlertFilter(scope=frozenset({"bob"})))[1] == 0
    page, total = book.list(AlertFilter(), page=2, per_page=2)
    assert total == 3 and len(page) == 1


def test_a_stale_source_raises_one_data_alert_for_the_data_owner(store):
    book = AlertBook(store)
    book.evaluate_run(config(), write(store, JAN, {"a": 0.05, "b": 0.05}))
    summary = book.evaluate_run(config(), write(store, FEB, {"a": 0.4, "b": 0.4},
                                                stale=True))[1]
    assert summary["opened"] == 1 and "stale source data" in summary["suppressed"][0]
    (alert,), _ = book.list(AlertFilter())
    assert (alert.rule, alert.account_id, alert.owner) == ("stale_source", "", "admin")
    # a reader with a book never sees data alerts; an admin (scope None) does
    assert book.list(AlertFilter(scope=frozenset({"ana"})))[1] == 0


def test_opening_alerts_queues_their_webhooks_in_the_same_transaction(store):
    secret = "whsec_" + "B" * 32
    book = AlertBook(store)
    summary = book.evaluate_run(config("http://127.0.0.1:9/h", secret=secret),
                                write(store, JAN, {"a": 0.40, "b": 0.05}))[1]
    assert summary["deliveries"] == 1
    with store._engine.connect() as conn:
        rows = conn.execute(sa.select(alert_deliveries)).all()
    assert len(rows) == 1 and rows[0].state == "pending" and rows[0].message_id.startswith(
        "msg_")


def test_the_inbox_shows_the_most_severe_and_riskiest_alerts_first(store):
    book = AlertBook(store)
    facts = {"a": {"nps": 3}, "b": {"nps": 9}, "c": {"nps": 2}}
    book.evaluate_run(config(), write(store, JAN, {"a": 0.40, "b": 0.70, "c": 0.05},
                                      facts=facts))
    listed, _ = book.list(AlertFilter())
    # critical "high" alerts by risk (b 70%, a 40%), then the warnings by risk (a, c)
    assert [(x.rule, x.account_id) for x in listed] == [
        ("high", "b"), ("high", "a"), ("detractor", "a"), ("detractor", "c")]


def test_an_action_on_an_alert_resolved_meanwhile_is_refused_not_undone(store):
    book = AlertBook(store)
    book.evaluate_run(config(), write(store, JAN, {"a": 0.40}))
    (alert,), _ = book.list(AlertFilter())
    real_get = book.get
    calls = []

    def stale_get(alert_id, today=None):  # what the action read before the resolve
        calls.append(alert_id)
        found = real_get(alert_id, today)
        if len(calls) == 1:
            with store._engine.begin() as conn:  # an evaluation resolves it meanwhile
                conn.execute(alerts.update().where(alerts.c.id == alert_id).values(
                    state="resolved", outcome="cleared"))
        return found

    book.get = stale_get  # type: ignore[method-assign]
    with pytest.raises(AlertError, match="resolved meanwhile"):
        book.act(alert.id, "ack")
    assert real_get(alert.id).state == "resolved"


def test_a_book_key_sees_only_its_books_alerts_by_id(store):
    book = AlertBook(store)
    book.evaluate_run(config(), write(store, JAN, {"a": 0.40, "b": 0.40},
                                      owners={"b": "bob"}))
    ids = {a.account_id: a.id for a in book.list(AlertFilter())[0]}
    assert book.visible(ids["b"], frozenset({"bob"})).account_id == "b"
    assert book.visible(ids["a"], None).account_id == "a"
    with pytest.raises(AlertError, match="No alert"):
        book.visible(ids["a"], frozenset({"bob"}))
