"""Ranked pages as JSON: the store's answer, worked out once per run and query."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from books import FEB, JAN, MAR, book

import serving.store.score_store as store_module
from serving.store.ranked_pages import RankedPages
from serving.store.score_store import ListQuery


def by_id(body: bytes) -> dict[str, dict]:
    return {item["account_id"]: item for item in json.loads(body)["items"]}


def test_a_page_is_the_stores_answer_and_is_worked_out_once(store, monkeypatch):
    store.write_run("7", JAN, book(JAN, {"a": 0.5, "b": 0.2, "c": 0.1}))
    pages = RankedPages(store)
    query = ListQuery(per_page=2)
    first = json.loads(pages.json(query))
    direct = store.ranked(query)
    assert [i["account_id"] for i in first["items"]] == [i.account_id for i in direct.items]
    assert (first["total"], first["run"]["id"]) == (3, direct.run.id)

    calls = []
    real = store.ranked
    monkeypatch.setattr(store, "ranked", lambda q, at=None: calls.append(q) or real(q, at))
    assert json.loads(pages.json(query)) == first
    assert calls == []  # answered from memory
    pages.json(ListQuery(per_page=2, page=2))
    assert len(calls) == 1  # another page is another answer


def test_a_page_not_yet_known_asks_which_run_is_newest_once(store, monkeypatch):
    store.write_run("7", JAN, book(JAN, {"a": 0.5, "b": 0.2}))
    store.write_run("7", FEB, book(FEB, {"a": 0.3, "b": 0.4}))
    asked = []
    real = store_module.run_and_previous
    monkeypatch.setattr(store_module, "run_and_previous",
                        lambda *args: asked.append(args) or real(*args))
    body = json.loads(RankedPages(store).json(ListQuery(per_page=1)))
    assert len(asked) == 1
    assert body["run"]["as_of"] == FEB.isoformat() and body["items"][0]["account_id"] == "b"
    assert body["items"][0]["delta"] is not None  # the previous run came along


def test_a_newer_run_or_an_older_one_inserted_before_changes_the_answer(store):
    pages = RankedPages(store)
    store.write_run("7", JAN, book(JAN, {"a": 0.5, "b": 0.2}))
    store.write_run("7", MAR, book(MAR, {"a": 0.3, "b": 0.4}))
    on_march = by_id(pages.json(ListQuery()))
    assert on_march["a"]["delta"] == 0.3 - 0.5

    store.write_run("7", FEB, book(FEB, {"a": 0.1, "b": 0.4}))  # now March's previous run
    assert by_id(pages.json(ListQuery()))["a"]["delta"] == 0.3 - 0.1

    store.write_run("7", dt.date(2025, 4, 1), book(dt.date(2025, 4, 1), {"c": 0.9}))
    assert list(by_id(pages.json(ListQuery()))) == ["c"]


def test_an_empty_store_has_an_empty_page(store):
    body = json.loads(RankedPages(store).json(ListQuery()))
    assert (body["items"], body["total"], body["run"]) == ([], 0, None)


def test_a_known_page_is_remembered_without_io_while_the_newest_run_is_fresh(
        store, monkeypatch):
    import serving.store.ranked_pages as module

    now = [100.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: now[0])
    pages = RankedPages(store)
    store.write_run("7", JAN, book(JAN, {"a": 0.5, "b": 0.2}))
    query = ListQuery()
    assert pages.remembered(query) is None  # nothing asked yet
    body = pages.json(query)
    monkeypatch.setattr(store, "position", lambda run_id=None: pytest.fail("I/O"))
    assert pages.remembered(query) == body
    assert pages.remembered(ListQuery(page=2)) is None  # not worked out yet
    assert pages.remembered(ListQuery(run_id=1)) is None  # a pinned run asks the store
    now[0] += module.FRESH_SECONDS + 0.1
    assert pages.remembered(query) is None  # one caller is sent to ask for the newest run
    assert pages.remembered(query) == body  # the others keep the answer meanwhile
    monkeypatch.undo()

    store.write_run("7", FEB, book(FEB, {"c": 0.9}))
    assert list(by_id(pages.json(query))) == ["c"]
    assert list(by_id(pages.remembered(query) or b"")) == ["c"]
