"""Pruning the score store: all but the newest runs go, with every row keyed by them.

Nothing else ever removes a run, and a 10,000-account run takes tens of MB in SQLite.
"Newest" is the store's own order (latest as_of, then last written), so the run the list
shows and the runs just before it, which give its "what changed" columns, are the ones
kept. The runs to delete are picked by id first, so a run written meanwhile is never
touched; each run-keyed table is then emptied of them explicitly, children before
parents, rather than trusting ON DELETE CASCADE: a database whose foreign keys lack it,
or a SQLite connection with foreign keys off, would otherwise keep orphaned rows.

Deleting frees pages inside a SQLite file without shrinking it; VACUUM returns them to
the disk, and cannot run inside a transaction, so it comes after the commit. Either way
the write-ahead log is then folded into the file (a checkpoint), so the file's size is
what it holds. On PostgreSQL, autovacuum makes the deleted rows' space reusable by later
runs by itself (only VACUUM FULL, which locks the tables, would return it to the disk).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa

from serving.store.models import RunSummary
from serving.store.queries import NEWEST, summary
from serving.store.schema import (
    account_facts,
    account_scores,
    quarter_renewals,
    run_monitoring,
    run_profiles,
    run_sources,
    score_evidence,
    score_reasons,
    scoring_runs,
    shadow_scores,
)

log = logging.getLogger(__name__)

# Every table keyed by run id, children before the tables their foreign keys point at.
RUN_TABLES = (score_evidence, score_reasons, account_facts, quarter_renewals, run_profiles,
              run_monitoring, run_sources, shadow_scores, account_scores)

_ALL_RUNS = sa.select(scoring_runs).order_by(*NEWEST)


def all_runs(conn: sa.Connection) -> list[RunSummary]:
    """Every run, newest first (as the store orders them)."""
    return [summary(row) for row in conn.execute(_ALL_RUNS)]


def delete_runs(conn: sa.Connection, run_ids: Sequence[int]) -> int:
    """Delete the runs and every row keyed by them; returns the account scores deleted.

    Runs in the caller's transaction, so a failure part way deletes nothing."""
    ids = list(run_ids)
    deleted: dict[str, int] = {}
    for table in RUN_TABLES:
        deleted[table.name] = conn.execute(
            table.delete().where(table.c.run_id.in_(ids))).rowcount
    deleted[scoring_runs.name] = conn.execute(
        scoring_runs.delete().where(scoring_runs.c.id.in_(ids))).rowcount
    log.info("deleted rows of %d scoring runs: %s", len(ids),
             ", ".join(f"{name} {count:,}" for name, count in deleted.items()))
    return deleted[account_scores.name]


def size_on_disk(path: Path | None) -> int | None:
    """Bytes of a SQLite file and its write-ahead log; None for a store without a file."""
    if path is None:
        return None
    wal = path.with_name(path.name + "-wal")
    return sum(p.stat().st_size for p in (path, wal) if p.is_file())


def settle_sqlite(engine: sa.Engine, vacuum: bool) -> None:
    """Fold the write-ahead log into a SQLite file and empty it, after VACUUM (which
    rewrites the file without its free pages) when asked.

    A prune writes about as much log as it deletes, and the log file keeps its size
    while the API holds connections open; folded in, the file's size is what it holds.
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if vacuum:
            conn.exec_driver_sql("VACUUM")
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
