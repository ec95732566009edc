"""The score store: scoring runs with their rows and reasons, in SQLite or PostgreSQL.

A run (model version, as_of, created_at) and all its rows are written in one
transaction, so a failure leaves no partial run. Runs are kept until pruned: "newest"
means the latest as_of, ties going to the run written last, and each run's predecessor in
that order gives the ranked list its "what changed" columns (risk delta and the driver
that moved most) and an account its score history. `prune` deletes all but the newest
runs, with their rows, in one transaction too.

The URL is any SQLAlchemy URL; a bare `postgresql://` opens psycopg 3, and a SQLite
file's directory is created if missing.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import sqlalchemy as sa

from features.atomic import is_disk_full
from features.point_in_time.evidence import AccountEvidence
from features.sources.database import redact_url
from serving.store.engine import create_engine, sqlite_file
from serving.store.models import (
    MAX_HISTORY,
    AccountDetail,
    AccountInfo,
    HistoryPoint,
    InvalidQueryError,
    InvalidRunError,
    ListQuery,
    Page,
    PruneResult,
    RankedAccount,
    RenewalDue,
    RunNotFoundError,
    RunSummary,
    ScoreStoreError,
    StoredScore,
)
from serving.store.monitoring import RunMonitoring, ShadowScore, write_extras
from serving.store.prune import all_runs, delete_runs, settle_sqlite, size_on_disk
from serving.store.queries import (
    account_row,
    filtered_by,
    history_of,
    list_params,
    list_statements,
    newest_runs,
    previous_run,
    ranked_account,
    rows_in,
    run_and_previous,
)
from serving.store.rows import check_not_empty, reasons_from_json, renewal_rows
from serving.store.schema import (
    account_scores,
    metadata,
    quarter_renewals,
    score_evidence,
    score_reasons,
    scoring_runs,
)
from serving.store.spool import RunSpool, SpooledPiece

__all__ = [
    "AccountDetail", "AccountInfo", "HistoryPoint", "InvalidQueryError", "InvalidRunError",
    "ListQuery", "Page", "PruneResult", "RankedAccount", "RenewalDue", "RunNotFoundError",
    "RunSummary", "ScoreStore", "ScoreStoreError", "StoredScore",
]

log = logging.getLogger(__name__)

SQLITE_FULL = 13  # sqlite3.SQLITE_FULL: "database or disk is full"


class ScoreStore:
    """Scoring runs in a SQL database; one instance per process, safe across threads."""

    def __init__(self, url: str) -> None:
        self.url = redact_url(url)
        self._engine = create_engine(url)
        self._file = sqlite_file(self._engine.url)
        try:
            metadata.create_all(self._engine)
        except sa.exc.SQLAlchemyError as exc:
            self._engine.dispose()
            raise _failed(f"Cannot open the score store at {self.url}", exc,
                          "Check the URL (CHURNLENS_SCORE_STORE_URL), the server and the "
                          "credentials.") from exc

    def __enter__(self) -> ScoreStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.dispose()

    # -- writing ------------------------------------------------------------------------

    def write_run(self, model_version: str, as_of: dt.date, scores: Sequence[StoredScore],
                  created_at: dt.datetime | None = None,
                  renewals: Sequence[RenewalDue] = (), *,
                  counts: dict[str, Any] | None = None,
                  reference: dict[str, Any] | None = None,
                  shadow: Sequence[ShadowScore] = (),
                  facts: Mapping[str, dict[str, Any]] | None = None,
                  last_records: dict[str, str | None] | None = None) -> int:
        """Store one scoring run and all its rows in one transaction; returns the run id.

        `renewals` are the renewals due in the run's quarter with their outcomes (see
        `point_in_time.terms.quarter_renewals`); `counts` the run's counts over its model's
        reference bins, `reference` that profile, `shadow` a challenger's scores of the
        same accounts (`serving.monitoring`); `facts` each account's alert facts and
        `last_records` each source table's last record day (`serving.alerts`). Raises
        InvalidRunError (nothing written) for an empty list, a duplicate account, a score
        from another model version or as_of, or an impossible value.
        """
        with RunSpool(model_version, as_of) as spool:
            spool.add(scores, facts=facts, shadow=shadow)
            return self.write_spooled(spool, created_at, renewals, counts=counts,
                                      reference=reference, last_records=last_records)

    def write_spooled(self, spool: RunSpool, created_at: dt.datetime | None = None,
                      renewals: Sequence[RenewalDue] = (), *,
                      counts: dict[str, Any] | None = None,
                      reference: dict[str, Any] | None = None,
                      last_records: dict[str, str | None] | None = None) -> int:
        """`write_run` of a run set aside piece by piece (`serving.store.spool`): one
        transaction, holding one piece in memory at a time."""
        check_not_empty(spool.accounts)
        due = renewal_rows(renewals)
        created = _utc(created_at)
        began = time.perf_counter()
        with self._guard(f"Writing the scoring run to {self.url} failed; nothing was "
                         f"written"), self._engine.begin() as conn:
            inserted = conn.execute(scoring_runs.insert().values(
                model_version=spool.model_version, as_of=spool.as_of, created_at=created,
                rows=spool.accounts,
            )).inserted_primary_key
            assert inserted is not None  # an INSERT of one row always has a primary key
            run_id = int(inserted[0])
            for piece in spool:
                _write_piece(conn, run_id, piece)
            if due:
                conn.execute(quarter_renewals.insert(), [{**row, "run_id": run_id}
                                                         for row in due])
            write_extras(conn, run_id, counts, reference, (), None, last_records)
        self._after_bulk_load()
        log.info("stored scoring run %d: %d accounts, model %s, as_of %s, in %.2f s",
                 run_id, spool.accounts, spool.model_version, spool.as_of,
                 time.perf_counter() - began)
        return run_id

    def _after_bulk_load(self) -> None:
        """On PostgreSQL, refresh the planner's statistics and the visibility map of
        `scores` right away, as its docs advise after a bulk load: counting a fresh run
        then reads only the index. Best effort: the run is committed already."""
        if self._engine.dialect.name != "postgresql":
            return
        try:
            with self._engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text(f"VACUUM (ANALYZE) {account_scores.name}"))
        except sa.exc.SQLAlchemyError as exc:
            log.warning("could not VACUUM (ANALYZE) %s after a run: %s",
                        account_scores.name, exc)

    # -- runs ---------------------------------------------------------------------------

    def latest_run(self) -> RunSummary | None:
        found = self.runs(limit=1)
        return found[0] if found else None

    def runs(self, limit: int = 20) -> list[RunSummary]:
        """The newest runs first (latest as_of, then last written)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise InvalidQueryError([f"limit must be a whole number from 1 to 1000 "
                                     f"(got {limit!r})"])
        with self._reading() as conn:
            return newest_runs(conn, limit)

    # -- the ranked list ------------------------------------------------------------------

    def position(self, run_id: int | None = None
                 ) -> tuple[RunSummary | None, RunSummary | None]:
        """The run a list is on (the newest unless `run_id`) and the run before it;
        RunNotFoundError for an unknown `run_id`."""
        with self._reading() as conn:
            return run_and_previous(conn, run_id)

    def ranked(self, query: ListQuery,
               at: tuple[RunSummary, RunSummary | None] | None = None) -> Page:
        """One page of the latest run's accounts (or `query.run_id`'s), ranked and filtered.

        `at` is the run and its previous run when the caller has just asked `position`,
        so the page is of exactly that run, and the store is not asked again.
        """
        with self._reading() as conn:
            run, previous = at if at is not None else run_and_previous(conn, query.run_id)
            if run is None:
                return Page([], 0, query.page, query.per_page, None)
            count, page = list_statements(query.sort, *filtered_by(query))
            params = list_params(query, run)
            total = conn.execute(count, params).scalar_one()
            if query.offset >= total:
                return Page([], total, query.page, query.per_page, run)
            rows = conn.execute(page, params).all()
            before = rows_in(conn, previous, [row[0] for row in rows])
        items = [ranked_account(row, before.get(row[0])) for row in rows]
        return Page(items, total, query.page, query.per_page, run)

    # -- one account ----------------------------------------------------------------------

    def account(self, account_id: str, history: int = 24) -> AccountDetail | None:
        """The account's newest stored score, its reasons and its scores in the newest
        `history` runs that hold it (newest first); None if no run holds the account."""
        limit = history
        if isinstance(limit, bool) or not isinstance(limit, int) \
                or not 1 <= limit <= MAX_HISTORY:
            raise InvalidQueryError([f"history must be a whole number of runs from 1 to "
                                     f"{MAX_HISTORY} (got {limit!r})"])
        with self._reading() as conn:
            points = history_of(conn, account_id, limit)
            if not points:
                return None
            newest = points[0]
            found = account_row(conn, newest.run_id, account_id)
            if found is None:  # its newest run was pruned after the history was read,
                return None    # and the runs kept are all newer: none holds the account
            row, detail, evidence = found
            before = rows_in(conn, previous_run(conn, newest.run_id, newest.as_of),
                             [account_id])
        return AccountDetail(
            latest=ranked_account(row, before.get(account_id)),
            reasons=reasons_from_json(detail.reasons),
            families={str(k): float(v) for k, v in detail.families.items()},
            run_id=newest.run_id, model_version=newest.model_version, as_of=newest.as_of,
            history=points,
            evidence=None if evidence is None else AccountEvidence.from_json(evidence),
        )

    # -- monitoring -----------------------------------------------------------------------

    @property
    def monitoring(self) -> RunMonitoring:
        """Each run's counts, judgement and shadow scores (`serving.store.monitoring`)."""
        return RunMonitoring(self._reading, self._writing)

    # -- pruning --------------------------------------------------------------------------

    def prune(self, keep: int, *, vacuum: bool = False, dry_run: bool = False
              ) -> PruneResult:
        """Delete every run but the `keep` newest, with all their rows, in one transaction.

        Nothing else removes runs, so this is how a store stops growing. A failure leaves
        the store as it was. `dry_run` deletes nothing and says what would go. `vacuum`
        then returns the freed space of a SQLite file to the disk (it needs free space
        about the file's size); elsewhere it does nothing, since PostgreSQL's autovacuum
        makes the space reusable by later runs by itself.
        """
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise InvalidQueryError([f"keep must be a whole number of runs of at least 1 "
                                     f"(got {keep!r}); the newest run is always kept"])
        before = size_on_disk(self._file)
        if dry_run:
            with self._reading() as conn:
                runs = all_runs(conn)
            kept, pruned = runs[:keep], runs[keep:]
            return PruneResult(tuple(pruned), tuple(kept), sum(r.rows for r in pruned),
                               dry_run=True, vacuumed=False, bytes_before=before,
                               bytes_after=before)
        with self._guard(f"Pruning the score store at {self.url} failed; nothing was "
                         f"deleted"), self._engine.begin() as conn:
            pruned = all_runs(conn)[keep:]
            score_rows = delete_runs(conn, [r.id for r in pruned]) if pruned else 0
            kept = all_runs(conn)
        log.info("pruned %d scoring runs with %d account scores from %s; %d runs kept",
                 len(pruned), score_rows, self.url, len(kept))
        sqlite = self._engine.dialect.name == "sqlite"
        if sqlite:
            try:
                settle_sqlite(self._engine, vacuum)
            except sa.exc.SQLAlchemyError as exc:
                step = "VACUUM" if vacuum else "checkpointing the write-ahead log"
                gone = f"{len(pruned)} old run{'' if len(pruned) == 1 else 's'}"
                raise _failed(f"Deleted {gone}, but {step} of {self.url} failed", exc,
                              f"Check the free disk space (VACUUM needs about the file's "
                              f"size), then reclaim it with `churnlens prune-runs --keep "
                              f"{keep} --vacuum`.") from exc
        return PruneResult(tuple(pruned), tuple(kept), score_rows, dry_run=False,
                           vacuumed=sqlite and vacuum, bytes_before=before,
                           bytes_after=size_on_disk(self._file))

    # -- health -----------------------------------------------------------------------------

    def ping(self) -> bool:
        """True when the database answers a trivial query (for /readyz)."""
        try:
            with self._engine.connect() as conn:
                conn.execute(sa.text("SELECT 1")).scalar_one()
            return True
        except Exception as exc:  # readiness must answer, whatever the driver raises
            log.warning("score store %s does not answer: %s", self.url, exc)
            return False

    def dispose(self) -> None:
        """Close the pooled connections (the store can still be used; it reconnects)."""
        self._engine.dispose()

    # -- plumbing -----------------------------------------------------------------------

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except sa.exc.SQLAlchemyError as exc:
            fix = "Check that the database is up and writable."
            if _disk_full(exc):
                where = f"the disk holding {self._file}" if self._file else "the database's disk"
                fix = (f"The disk is full: free some space on {where} (`churnlens prune-runs` "
                       f"deletes old runs), then run it again.")
            raise _failed(action, exc, fix) from exc

    @contextmanager
    def _writing(self, action: str) -> Iterator[sa.Connection]:
        with self._guard(f"{action} to {self.url} failed"), self._engine.begin() as conn:
            yield conn

    @contextmanager
    def _reading(self) -> Iterator[sa.Connection]:
        with self._guard(f"Reading the score store at {self.url} failed"), \
                self._engine.connect() as conn:
            yield conn


def _write_piece(conn: sa.Connection, run_id: int, piece: SpooledPiece) -> None:
    """One spooled piece's rows, inside the run's transaction."""
    for table, rows in ((account_scores, piece.rows), (score_reasons, piece.details),
                        (score_evidence, piece.evidence)):
        if rows:
            conn.execute(table.insert(), [{**row, "run_id": run_id} for row in rows])
    write_extras(conn, run_id, None, None, piece.shadow, piece.facts, None)


def _disk_full(exc: sa.exc.SQLAlchemyError) -> bool:
    """Whether the database refused a write for want of space: SQLite's SQLITE_FULL,
    PostgreSQL's disk_full (SQLSTATE 53100), or the operating system's ENOSPC."""
    orig = getattr(exc, "orig", None)
    return (getattr(orig, "sqlite_errorcode", None) == SQLITE_FULL
            or getattr(orig, "sqlstate", None) == "53100"
            or (orig is not None and is_disk_full(orig)))


def _failed(action: str, exc: Exception, fix: str) -> ScoreStoreError:
    detail = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
    return ScoreStoreError(f"{action}: {type(exc).__name__}: {detail}. {fix}")


def _utc(created_at: dt.datetime | None) -> dt.datetime:
    if created_at is None:
        return dt.datetime.now(dt.UTC)
    if not isinstance(created_at, dt.datetime) or created_at.tzinfo is None:
        raise InvalidRunError(f"created_at must be a timezone-aware datetime (got "
                              f"{created_at!r}); use e.g. datetime.now(timezone.utc). "
                              f"Nothing was written.")
    return created_at.astimezone(dt.UTC)
