"""Live alerts against the renewals they warned of, and the outcomes CSMs recorded."""

from __future__ import annotations

import datetime as dt

import pytest
from books import FEB, JAN, MAR, book
from stored import config, write

from serving.alerts.book import AlertBook, AlertFilter
from serving.alerts.track_record import track_record
from serving.store.models import RenewalDue


def _renewals(outcomes: dict[str, str]) -> list[RenewalDue]:
    due = JAN + dt.timedelta(days=100)  # the renewal date `books.book` gives a JAN score
    return [RenewalDue(s.account, f"sub-{s.account.account_id}", outcomes[s.account.account_id])
            for s in book(JAN, dict.fromkeys(outcomes, 0.1))
            if s.account.renewal_date == due]


def test_alerts_count_by_the_outcome_of_the_renewal_they_warned_of(store):
    alerts = AlertBook(store)
    alerts.evaluate_run(config(), write(store, JAN, {"a": 0.40, "b": 0.40, "c": 0.05,
                                                     "d": 0.05},
                                        facts={"a": {"nps": 3}, "b": {"nps": 9},
                                               "c": {"nps": 9}, "d": {"nps": 9}}))
    # A later run knows a and d churned, b renewed; c's renewal is still open.
    store.write_run("7", FEB, book(FEB, {"a": 0.4}), renewals=_renewals(
        {"a": "churned", "b": "renewed", "c": "open", "d": "churned"}))
    (detractor,), _ = alerts.list(AlertFilter(rule="detractor"))
    alerts.act(detractor.id, "resolve", outcome="churned")
    record, base = track_record(store)
    assert base == pytest.approx(2 / 3)  # a and d of a, b, d
    by_rule = {r.rule: r for r in record}
    assert (by_rule["high"].alerts, by_rule["high"].renewals_known,
            by_rule["high"].churned) == (2, 2, 1)
    assert by_rule["high"].lift == pytest.approx(0.5 / (2 / 3))
    assert by_rule["detractor"].churn_rate == 1.0
    assert by_rule["detractor"].outcomes == {"churned": 1}
    assert by_rule["high"].outcomes == {}
    mine, their_base = track_record(store, frozenset({"bob"}))
    assert mine == [] and their_base is None  # every alert and renewal here is ana's
    assert track_record(store, frozenset({"ana"}))[1] == pytest.approx(2 / 3)



def test_the_newest_run_by_as_of_holds_and_each_page_sees_the_runs_stored_by_then(store):
    AlertBook(store).evaluate_run(config(), write(store, JAN, {"a": 0.40, "b": 0.40}))
    assert track_record(store)[1] is None  # no renewal known yet
    store.write_run("7", FEB, book(FEB, {"a": 0.4}),
                    renewals=_renewals({"a": "renewed", "b": "churned"}))
    assert track_record(store)[1] == pytest.approx(1 / 2)  # a run stored since counts
    # Stored later, but with an earlier as_of: the February run's word holds.
    late = JAN + dt.timedelta(days=14)
    store.write_run("7", late, book(late, {"a": 0.4}),
                    renewals=_renewals({"a": "churned", "b": "churned"}))
    (high,) = track_record(store)[0]
    assert (high.alerts, high.renewals_known, high.churned) == (2, 2, 1)
    # Pruning keeps the newest run (March, which knows no renewal): the newest run id is
    # the same as before, and the pruned runs' renewals no longer count.
    store.write_run("7", MAR, book(MAR, {"a": 0.4}))
    assert track_record(store)[1] == pytest.approx(1 / 2)
    store.prune(keep=1)
    (high,) = track_record(store)[0]
    assert (high.renewals_known, track_record(store)[1]) == (0, None)
