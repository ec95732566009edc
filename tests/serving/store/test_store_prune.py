"""Pruning old scoring runs, on SQLite and on a real PostgreSQL: the newest runs stay as
they were, every row of the others goes, and a failure part way deletes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from features.point_in_time.evidence import AccountEvidence, OpenTicket, SurveyAnswer, UsageWeek
from features.sources.database import engine_url
from serving.risk import Bands, Reason, RiskScore
from serving.store.monitoring import ShadowScore
from serving.store.schema import metadata, scoring_runs
from serving.store.score_store import (
    AccountInfo,
    InvalidQueryError,
    ListQuery,
    RenewalDue,
    ScoreStore,
    ScoreStoreError,
    StoredScore,
)

JAN, FEB, MAR, APR = (dt.date(2025, m, 1) for m in (1, 2, 3, 4))
ACCOUNTS = ("a1", "a2", "a3", "a4")
# Every table holding rows of a run, and the column that names the run.
# Alerts name the runs that raised them but outlive them: what CSMs did is not pruned.
OUTLIVE_RUNS = {"alerts", "alert_evaluations"}
RUN_KEYED = {table.name: table.c.run_id for table in metadata.sorted_tables
             if "run_id" in table.c and table.name not in OUTLIVE_RUNS
             } | {scoring_runs.name: scoring_runs.c.id}


def scored(account_id: str, probability: float, as_of: dt.date) -> StoredScore:
    reasons = (Reason("logins_28d", "usage", 3.0, probability, "few logins"),
               Reason("open_tickets", "support", 2, probability / 2, "two open tickets"))
    score = RiskScore(account_id, as_of, probability, Bands().band(probability), "churnlens",
                      "7", reasons, {"usage": probability, "support": probability / 2},
                      contributions={"logins_28d": probability, "tenure": -0.1})
    info = AccountInfo(account_id, f"{account_id} Inc", "smb", "ana", 10_000.0,
                       as_of + dt.timedelta(days=60))
    evidence = AccountEvidence(
        account_id=account_id, as_of=as_of,
        last_nps=SurveyAnswer("nps", as_of - dt.timedelta(days=9), 4.0, "slow"),
        last_comment=None,
        open_tickets=(OpenTicket("T1", as_of - dt.timedelta(days=3), 3, "high", "bug",
                                 True),),
        open_ticket_count=1,
        usage=(UsageWeek(as_of - dt.timedelta(weeks=1), 5, 10.0, 20.0),))
    return StoredScore(score, info, evidence if account_id in ("a1", "a2") else None)


def renewals(as_of: dt.date) -> list[RenewalDue]:
    return [RenewalDue(AccountInfo(account_id, account_id, "smb", "ana", 5_000.0,
                                   as_of - dt.timedelta(days=5)), f"{account_id}-S1", outcome)
            for account_id, outcome in (("a1", "open"), ("gone", "churned"))]


def write(store: ScoreStore, as_of: dt.date, shift: float = 0.0) -> int:
    book = [scored(account_id, round(0.1 * (i + 1) + shift, 4), as_of)
            for i, account_id in enumerate(ACCOUNTS)]
    run_id = store.write_run("7", as_of, book, renewals=renewals(as_of),
                             counts={"rows": len(book)},
                             shadow=[ShadowScore("a1", "8", 0.2)],
                             facts={"a1": {"nps": 9}},
                             last_records={"tickets": as_of.isoformat()})
    store.monitoring.save(run_id, "ok", {"verdict": "ok"})
    return run_id


@pytest.fixture
def history(store: ScoreStore) -> dict[dt.date, int]:
    """Four monthly runs written out of order: newest first they are April, March,
    February (a backfill, written last), January."""
    return {as_of: write(store, as_of, shift) for as_of, shift in
            ((MAR, 0.03), (JAN, 0.01), (APR, 0.04), (FEB, 0.02))}


def rows_of(url: str, run_ids: list[int] | None = None) -> dict[str, list[Any]]:
    """Every run-keyed table's rows (of `run_ids` only, when given), read directly."""
    engine = sa.create_engine(engine_url(url))
    try:
        with engine.connect() as conn:
            found = {}
            for name, column in RUN_KEYED.items():
                table = metadata.tables[name]
                query = sa.select(table).order_by(*table.primary_key.columns)
                if run_ids is not None:
                    query = query.where(column.in_(run_ids))
                found[name] = [tuple(row) for row in conn.execute(query)]
            return found
    finally:
        engine.dispose()


def test_prune_keeps_the_newest_runs_as_they_were_and_deletes_every_row_of_the_others(
        store, store_url, history):
    kept_ids, pruned_ids = [history[APR], history[MAR]], [history[FEB], history[JAN]]
    kept_rows = rows_of(store_url, kept_ids)
    newest_pages = [store.ranked(ListQuery(sort=sort)) for sort in ("risk", "arr_at_risk")]
    march_page = store.ranked(ListQuery(run_id=history[MAR]))
    details = {account_id: store.account(account_id) for account_id in ACCOUNTS}
    assert all(rows for rows in rows_of(store_url, pruned_ids).values())  # every table used

    result = store.prune(keep=2)

    assert [r.id for r in result.pruned] == pruned_ids  # newest first, by as_of not by id
    assert [r.as_of for r in result.pruned] == [FEB, JAN]
    assert result.kept_ids == kept_ids and store.runs() == list(result.kept)
    assert result.score_rows == 2 * len(ACCOUNTS)
    assert (result.dry_run, result.vacuumed) == (False, False)
    assert rows_of(store_url, pruned_ids) == {name: [] for name in RUN_KEYED}
    assert rows_of(store_url) == kept_rows
    # The newest run reads as before; the oldest kept one has no run before it any more.
    assert [store.ranked(ListQuery(sort=sort)) for sort in ("risk", "arr_at_risk")
            ] == newest_pages
    march_after = store.ranked(ListQuery(run_id=history[MAR]))
    assert all(item.delta is None and item.moved_most is None for item in march_after.items)
    assert [(i.account_id, i.probability) for i in march_after.items] == [
        (i.account_id, i.probability) for i in march_page.items]
    for account_id, before in details.items():
        after = store.account(account_id)
        assert before is not None and after is not None
        assert after.history == [h for h in before.history if h.run_id in kept_ids]
        assert (after.latest, after.reasons, after.families, after.evidence) == (
            before.latest, before.reasons, before.families, before.evidence)


def test_keep_one_leaves_only_the_newest_run(store, store_url, history):
    result = store.prune(keep=1)
    assert result.kept_ids == [history[APR]]
    assert rows_of(store_url) == rows_of(store_url, [history[APR]])
    detail = store.account("a1")
    assert detail is not None and [h.run_id for h in detail.history] == [history[APR]]
    assert detail.latest.delta is None  # the run before it is gone: no change to show


@pytest.mark.parametrize("keep", [0, -3, 1.5, True, "2"])
def test_keep_must_be_at_least_one_run(store, store_url, history, keep):
    before = rows_of(store_url)
    with pytest.raises(InvalidQueryError, match="keep must be a whole number of runs of at "
                                                "least 1") as caught:
        store.prune(keep=keep)
    assert f"(got {keep!r}); the newest run is always kept" in str(caught.value)
    assert rows_of(store_url) == before


@pytest.mark.parametrize("extra", [0, 1, 100])
def test_keeping_at_least_as_many_runs_as_there_are_deletes_nothing(store, store_url,
                                                                   history, extra):
    before = rows_of(store_url)
    result = store.prune(keep=len(history) + extra)
    assert (result.pruned, result.score_rows) == ((), 0)
    assert result.kept_ids == [history[d] for d in (APR, MAR, FEB, JAN)]
    assert rows_of(store_url) == before


def test_an_empty_store_has_nothing_to_prune(store):
    result = store.prune(keep=1, vacuum=True)
    assert (result.pruned, result.kept, result.score_rows) == ((), (), 0)


def test_a_failure_part_way_deletes_nothing(store, store_url, history):
    before = rows_of(store_url)
    seen: list[str] = []

    def fail_on_the_second_table(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("DELETE"):
            seen.append(statement.split()[2])
            if len(seen) == 2:
                raise sa.exc.OperationalError(statement, None,
                                              Exception("disk I/O error (injected)"))

    engine = store._engine  # the failure is injected into this store's own connection
    sa.event.listen(engine, "before_cursor_execute", fail_on_the_second_table)
    try:
        with pytest.raises(ScoreStoreError, match="nothing was deleted") as caught:
            store.prune(keep=1)
    finally:
        sa.event.remove(engine, "before_cursor_execute", fail_on_the_second_table)
    assert "disk I/O error (injected)" in str(caught.value)
    assert seen == ["score_evidence", "score_reasons"]  # the first table's rows had gone
    assert rows_of(store_url) == before
    assert store.prune(keep=1).kept_ids == [history[APR]]  # and the store still works


@pytest.fixture
def without_cascades(store: ScoreStore, store_url: str) -> Iterator[None]:
    """The store's connections with ON DELETE CASCADE not acting, as in a database whose
    foreign keys lack it (SQLite: foreign keys off; PostgreSQL: their triggers off)."""
    off = ("PRAGMA foreign_keys=OFF" if store_url.startswith("sqlite")
           else "SET session_replication_role = replica")

    def cascades_off(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(off)
        cursor.close()
        dbapi_connection.commit()

    store.dispose()
    sa.event.listen(store._engine, "connect", cascades_off)
    try:
        yield
    finally:
        sa.event.remove(store._engine, "connect", cascades_off)
        store.dispose()


def test_every_row_goes_without_help_from_cascading_deletes(store, store_url, history,
                                                           without_cascades):
    kept = [history[APR], history[MAR]]
    kept_rows = rows_of(store_url, kept)
    store.prune(keep=2)
    assert rows_of(store_url) == kept_rows


def test_a_dry_run_says_what_would_go_and_deletes_nothing(store, store_url, history):
    before = rows_of(store_url)
    result = store.prune(keep=3, dry_run=True, vacuum=True)
    assert [r.id for r in result.pruned] == [history[JAN]]
    assert result.kept_ids == [history[d] for d in (APR, MAR, FEB)]
    assert (result.score_rows, result.dry_run, result.vacuumed) == (len(ACCOUNTS), True, False)
    assert result.bytes_after == result.bytes_before
    assert rows_of(store_url) == before


def test_vacuum_shrinks_a_sqlite_file_and_is_left_to_postgresql(store, store_url, history):
    for month in range(5, 9):  # enough rows for the freed pages to show in the file size
        as_of = dt.date(2025, month, 1)
        store.write_run("7", as_of, [scored(f"x{i:04d}", 0.2, as_of) for i in range(500)])
    result = store.prune(keep=1, vacuum=True)
    assert len(result.pruned) == 7 and result.score_rows == 3 * 500 + 4 * len(ACCOUNTS)
    if store_url.startswith("sqlite"):
        file = Path(sa.make_url(store_url).database or "")
        assert result.vacuumed and result.bytes_before is not None
        assert result.bytes_after == file.stat().st_size  # the log was folded into the file
        assert result.bytes_after < result.bytes_before / 2
    else:
        assert (result.vacuumed, result.bytes_before, result.bytes_after) == (False, None, None)
    assert store.ranked(ListQuery()).total == 500  # the store reads on after it


def test_without_vacuum_a_sqlite_file_does_not_shrink(tmp_path):
    url = f"sqlite:///{tmp_path / 'scores.db'}"
    with ScoreStore(url) as store:
        for as_of in (JAN, FEB):
            store.write_run("7", as_of, [scored(f"x{i:04d}", 0.2, as_of) for i in range(500)])
    with ScoreStore(url) as store:  # the runs folded into the file as the last one closed
        result = store.prune(keep=1)
    assert len(result.pruned) == 1 and not result.vacuumed
    assert result.bytes_before is not None
    assert result.bytes_after == result.bytes_before == (tmp_path / "scores.db").stat().st_size


def test_a_failed_vacuum_says_the_runs_are_gone_and_how_to_reclaim_the_space(tmp_path):
    with ScoreStore(f"sqlite:///{tmp_path / 'scores.db'}") as store:
        for as_of in (JAN, FEB):
            write(store, as_of)

        def no_space(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if statement == "VACUUM":
                raise sa.exc.OperationalError(statement, None,
                                              Exception("database or disk is full"))

        sa.event.listen(store._engine, "before_cursor_execute", no_space)
        with pytest.raises(ScoreStoreError) as caught:
            store.prune(keep=1, vacuum=True)
        assert str(caught.value).startswith("Deleted 1 old run, but VACUUM of ")
        assert "`churnlens prune-runs --keep 1 --vacuum`" in str(caught.value)
        assert [r.as_of for r in store.runs()] == [FEB]
