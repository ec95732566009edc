"""A run set aside piece by piece is stored as the same run written whole, in one
transaction; an account in two pieces, or a full disk while setting it aside, refuses
the run with nothing stored."""

from __future__ import annotations

import errno
from typing import Any

import pytest
from books import JAN, book, stored_run

from serving.store.models import InvalidRunError, ScoreStoreError
from serving.store.monitoring import ShadowScore
from serving.store.spool import RunSpool

RUN_TABLES = ("scores", "score_reasons", "shadow_scores", "account_facts")
PROBABILITIES = {f"acc-{i:03d}": (i % 89) / 100 for i in range(250)}


def _extras(ids: list[str]) -> dict[str, Any]:
    return {"shadow": [ShadowScore(a, "8", 0.5) for a in ids],
            "facts": {a: {"risk": len(a)} for a in ids}}


def test_a_run_in_pieces_is_stored_as_the_run_written_whole(store, store_url):
    whole = book(JAN, PROBABILITIES)
    written = store.write_run("7", JAN, whole, **_extras(list(PROBABILITIES)))
    with RunSpool("7", JAN) as spool:
        for lo in range(0, len(whole), 60):  # the last piece is shorter
            piece = whole[lo:lo + 60]
            spool.add(piece, **_extras([s.score.account_id for s in piece]))
        spool.add([])  # an empty piece, as an empty bucket gives
        assert spool.accounts == len(whole)
        pieced = store.write_spooled(spool)
    stored, again = (stored_run(store_url, run, RUN_TABLES) for run in (written, pieced))
    assert len(stored["scores"]) == 250
    for table in RUN_TABLES:
        assert again[table] == stored[table] and stored[table], table
    assert [run.rows for run in store.runs()] == [250, 250]


def test_an_account_in_two_pieces_refuses_the_run_naming_it(store):
    first, second = book(JAN, {"a": 0.2, "b": 0.4}), book(JAN, {"c": 0.1, "a": 0.3})
    with RunSpool("7", JAN) as spool:
        spool.add(first)
        with pytest.raises(InvalidRunError, match=r"account scored twice in one run .*e\.g\. a"):
            spool.add(second)
    assert store.runs() == []


def test_an_empty_spool_is_refused(store):
    with RunSpool("7", JAN) as spool, pytest.raises(InvalidRunError,
                                                    match="at least one account"):
        spool.add([])
        store.write_spooled(spool)
    assert store.runs() == []


def test_a_full_disk_while_setting_a_run_aside_says_where_and_what_to_do(store, monkeypatch):
    import serving.store.spool as spool_module

    def full(*_args: Any, **_kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(spool_module.pickle, "dump", full)
    with RunSpool("7", JAN) as spool, pytest.raises(ScoreStoreError) as raised:
        spool.add(book(JAN, {"a": 0.2}))
    message = str(raised.value)
    assert "the disk is full" in message and "nothing was stored" in message
    assert "TMPDIR" in message
    assert store.runs() == []

