"""Runs pruned while the API serves: remembered pages and account reads cope.

The API remembers ranked pages per (run, previous run, query) and shows each account's
change since the run before. Pruning only ever removes runs older than the ones kept, so
the newest run stays; what changes is that the oldest kept run has no previous run any
more, and on SQLite a pruned run's id can be given to a run written later.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from books import FEB, JAN, MAR, book

import serving.store.score_store as store_module
from serving.store.ranked_pages import RankedPages
from serving.store.score_store import ListQuery, ScoreStore


def deltas(body: bytes) -> dict[str, Any]:
    return {item["account_id"]: item["delta"] for item in json.loads(body)["items"]}


def test_a_pruned_previous_run_means_no_delta(store):
    pages = RankedPages(store)
    for as_of, p in ((JAN, 0.1), (FEB, 0.2), (MAR, 0.5)):
        store.write_run("7", as_of, book(as_of, {"a": p}))
    assert deltas(pages.json(ListQuery())) == {"a": pytest.approx(0.3)}
    store.prune(keep=1)
    assert deltas(pages.json(ListQuery())) == {"a": None}
    detail = store.account("a")
    assert detail is not None and detail.latest.delta is None and len(detail.history) == 1


def test_keeping_one_run_keeps_serving_the_newest(store):
    pages = RankedPages(store)
    store.write_run("7", JAN, book(JAN, {"a": 0.1, "b": 0.2}))
    newest = store.write_run("7", FEB, book(FEB, {"a": 0.4, "b": 0.3}))
    before = json.loads(pages.json(ListQuery()))
    store.prune(keep=1)
    after = json.loads(pages.json(ListQuery()))
    assert before["run"]["id"] == after["run"]["id"] == newest
    assert [i["account_id"] for i in after["items"]] == [i["account_id"]
                                                         for i in before["items"]]
    assert pages.json(ListQuery(run_id=newest)) == pages.json(ListQuery())


def test_a_run_given_a_pruned_runs_id_is_not_taken_for_it(store):
    """SQLite hands the highest id out again once its run is deleted: a pruned backfill's
    id can come back as the newest run's new previous run."""
    pages = RankedPages(store)
    store.write_run("7", JAN, book(JAN, {"a": 0.1}))
    store.write_run("7", MAR, book(MAR, {"a": 0.5}))
    backfill = store.write_run("7", FEB, book(FEB, {"a": 0.2}))
    assert deltas(pages.json(ListQuery())) == {"a": pytest.approx(0.3)}
    store.prune(keep=1)
    again = store.write_run("7", FEB, book(FEB, {"a": 0.45}))
    if store.url.startswith("sqlite"):
        assert again == backfill  # the case this guards against
    assert deltas(pages.json(ListQuery())) == {"a": pytest.approx(0.05)}


def test_an_account_whose_runs_are_pruned_while_it_is_read_is_not_found(
        store: ScoreStore, monkeypatch):
    store.write_run("7", JAN, book(JAN, {"left": 0.7, "a": 0.1}))
    store.write_run("7", FEB, book(FEB, {"a": 0.2}))
    real = store_module.history_of

    def then_prune(*args: Any) -> Any:
        points = real(*args)
        store.prune(keep=1)  # between reading the history and the rows it points at
        return points

    monkeypatch.setattr(store_module, "history_of", then_prune)
    assert store.account("left") is None
    monkeypatch.undo()
    assert store.account("left") is None
