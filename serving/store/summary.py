"""Header figures of a book of accounts in one scoring run, for the CSM page.

A book is a run's accounts, optionally narrowed to one CSM owner and one segment (the
filters that say whose accounts these are). Its figures are what a CSM reads before the
list: how many accounts are at high risk, the ARR at risk (the sum of probability × ARR
over the book), the renewals due within 90 days of the run's as_of, and this quarter's
renewals by status: renewed and churned (known outcomes, so churned ARR is quarter to
date), and the still open ones split by the account's risk band in the run into "no
risk" (low) and "at risk" (medium, high, or not scored because the term has ended and
the renewal is overdue). The owners and segments present in the run feed the page's
filter choices.

Each figure is one aggregate query over the run's rows (tens of milliseconds on a
10,000-account run); `BookFigures` keeps the answers, since a stored run never changes,
so the page pays that once per run and book, not once per view.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import pandas as pd
import sqlalchemy as sa

from features.point_in_time.terms import quarter_of
from serving.store.schema import account_scores, quarter_renewals
from serving.store.score_store import RunSummary, ScoreStore

RENEWAL_WINDOW_DAYS = 90
T = TypeVar("T")

_S = account_scores.c
_Q = quarter_renewals.c


QUARTER_STATUSES = ("renewed", "no_risk", "at_risk", "churned")


@dataclass(frozen=True)
class QuarterRenewals:
    """Renewals due in one quarter by status, as known at the run's as_of."""

    start: dt.date
    end: dt.date  # the quarter's last day
    counts: dict[str, int]  # every status of QUARTER_STATUSES, zero when none
    arr: dict[str, float]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def churned_arr(self) -> float:
        return self.arr["churned"]


@dataclass(frozen=True)
class BookSummary:
    """Figures of one run's book; renewals count from the run's as_of (as the list does)."""

    accounts: int
    arr: float
    high_risk: int
    high_risk_arr: float
    arr_at_risk: float
    renewals: int
    renewals_arr: float
    quarter: QuarterRenewals
    renewal_window_days: int = RENEWAL_WINDOW_DAYS


@dataclass(frozen=True)
class BookChoices:
    """The CSM owners and segments present in one run, sorted, for the filter menus."""

    owners: list[str]
    segments: list[str]


class BookFigures:
    """Header figures and filter choices of runs in one score store, remembered per run.

    A stored run never changes, so each answer is kept (the most recent `remember`
    of them) and a page view after the first costs no query here.
    """

    def __init__(self, store: ScoreStore, remember: int = 256) -> None:
        self.store = store
        self._remember = remember
        self._known: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def summary(self, run: RunSummary, *, csm_owner: str | None = None,
                segment: str | None = None, scope: frozenset[str] | None = None,
                renewal_window_days: int = RENEWAL_WINDOW_DAYS) -> BookSummary:
        """The header figures of `run`, narrowed to one owner and/or segment when given,
        and always to the owners of `scope` (a book key's CSMs) when it is not None."""
        key = ("summary", run.id, run.created_at, csm_owner, segment, scope,
               renewal_window_days)
        return self._cached(key, lambda: summarise(
            self.store, run.id, run.as_of, csm_owner=csm_owner, segment=segment,
            scope=scope, renewal_window_days=renewal_window_days))

    def choices(self, run: RunSummary, scope: frozenset[str] | None = None) -> BookChoices:
        return self._cached(("choices", run.id, run.created_at, scope),
                            lambda: choices(self.store, run.id, scope))

    def _cached(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._known:
                self._known.move_to_end(key)
                return cast(T, self._known[key])
        value = compute()
        with self._lock:
            self._known[key] = value
            while len(self._known) > self._remember:
                self._known.popitem(last=False)
        return value


def summarise(store: ScoreStore, run_id: int, as_of: dt.date, *,
              csm_owner: str | None = None, segment: str | None = None,
              scope: frozenset[str] | None = None,
              renewal_window_days: int = RENEWAL_WINDOW_DAYS) -> BookSummary:
    """The header figures of run `run_id` (whose as_of is `as_of`), narrowed to one owner
    and/or segment when given, and to the owners of `scope` when it is not None."""
    renewing = sa.and_(_S.renewal_date >= as_of,
                       _S.renewal_date <= as_of + dt.timedelta(days=renewal_window_days))
    high = _S.band == "high"
    statement = sa.select(
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(_S.arr), 0.0),
        sa.func.coalesce(sa.func.sum(sa.case((high, 1), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(sa.case((high, _S.arr), else_=0.0)), 0.0),
        sa.func.coalesce(sa.func.sum(_S.arr_at_risk), 0.0),
        sa.func.coalesce(sa.func.sum(sa.case((renewing, 1), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(sa.case((renewing, _S.arr), else_=0.0)), 0.0),
    ).where(*_book(run_id, csm_owner, segment, scope))
    with _reading(store) as conn:
        row = conn.execute(statement).one()
        quarter = _quarter(conn, run_id, as_of, csm_owner, segment, scope)
    accounts, arr, high_risk, high_arr, at_risk, renewals, renewals_arr = row
    return BookSummary(int(accounts), float(arr), int(high_risk), float(high_arr),
                       float(at_risk), int(renewals), float(renewals_arr), quarter,
                       renewal_window_days)


def _quarter(conn: sa.Connection, run_id: int, as_of: dt.date, csm_owner: str | None,
             segment: str | None, scope: frozenset[str] | None) -> QuarterRenewals:
    """This quarter's renewals of the book by status (see the module docstring)."""
    status = sa.case((_Q.outcome == "renewed", "renewed"), (_Q.outcome == "churned", "churned"),
                     (_S.band == "low", "no_risk"), else_="at_risk")
    where: list[Any] = [_Q.run_id == run_id]
    if csm_owner is not None:
        where.append(_Q.csm_owner == csm_owner)
    if segment is not None:
        where.append(_Q.segment == segment)
    if scope is not None:
        where.append(_Q.csm_owner.in_(sorted(scope)))
    statement = (sa.select(status, sa.func.count(), sa.func.coalesce(sa.func.sum(_Q.arr), 0.0))
                 .select_from(quarter_renewals.outerjoin(account_scores, sa.and_(
                     _S.run_id == _Q.run_id, _S.account_id == _Q.account_id)))
                 .where(*where).group_by(status))
    counts = dict.fromkeys(QUARTER_STATUSES, 0)
    arr = dict.fromkeys(QUARTER_STATUSES, 0.0)
    for name, count, total in conn.execute(statement):
        counts[name], arr[name] = int(count), float(total)
    start, end = quarter_of(pd.Timestamp(as_of))
    return QuarterRenewals(start.date(), (end - pd.Timedelta(days=1)).date(), counts, arr)


def choices(store: ScoreStore, run_id: int, scope: frozenset[str] | None = None
            ) -> BookChoices:
    """The distinct owners and segments of run `run_id` ('' included when some are blank),
    of the owners in `scope` only when it is not None."""
    where = _book(run_id, None, None, scope)
    with _reading(store) as conn:
        owners = conn.execute(sa.select(_S.csm_owner).distinct()
                              .where(*where).order_by(_S.csm_owner)).scalars()
        owner_list = list(owners)
        segments = conn.execute(sa.select(_S.segment).distinct()
                                .where(*where).order_by(_S.segment)).scalars()
        return BookChoices(owner_list, list(segments))


def _book(run_id: int, csm_owner: str | None, segment: str | None,
          scope: frozenset[str] | None) -> list[Any]:
    where: list[Any] = [_S.run_id == run_id]
    if csm_owner is not None:
        where.append(_S.csm_owner == csm_owner)
    if segment is not None:
        where.append(_S.segment == segment)
    if scope is not None:
        where.append(_S.csm_owner.in_(sorted(scope)))
    return where


def _reading(store: ScoreStore) -> AbstractContextManager[sa.Connection]:
    # The store's own read context: a pooled connection, and any database error turned
    # into a ScoreStoreError that names the store and says what to check.
    return store._reading()
