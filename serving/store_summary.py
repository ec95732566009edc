"""Header figures of a book of accounts in one scoring run, for the CSM page.

A book is a run's accounts, optionally narrowed to one CSM owner and one segment (the
filters that say whose accounts these are). Its figures are what a CSM reads before the
list: how many accounts are at high risk, the ARR at risk (the sum of probability × ARR
over the book) and the renewals due within 90 days of the run's as_of. The owners and
segments present in the run feed the page's filter choices.

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

import sqlalchemy as sa

from serving.store import RunSummary, ScoreStore
from serving.store_schema import account_scores

RENEWAL_WINDOW_DAYS = 90
T = TypeVar("T")

_S = account_scores.c


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
                segment: str | None = None,
                renewal_window_days: int = RENEWAL_WINDOW_DAYS) -> BookSummary:
        """The header figures of `run`, narrowed to one owner and/or segment when given."""
        key = ("summary", run.id, run.created_at, csm_owner, segment, renewal_window_days)
        return self._cached(key, lambda: summarise(
            self.store, run.id, run.as_of, csm_owner=csm_owner, segment=segment,
            renewal_window_days=renewal_window_days))

    def choices(self, run: RunSummary) -> BookChoices:
        return self._cached(("choices", run.id, run.created_at),
                            lambda: choices(self.store, run.id))

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
              renewal_window_days: int = RENEWAL_WINDOW_DAYS) -> BookSummary:
    """The header figures of run `run_id` (whose as_of is `as_of`), narrowed to one owner
    and/or segment when given."""
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
    ).where(*_book(run_id, csm_owner, segment))
    with _reading(store) as conn:
        row = conn.execute(statement).one()
    accounts, arr, high_risk, high_arr, at_risk, renewals, renewals_arr = row
    return BookSummary(int(accounts), float(arr), int(high_risk), float(high_arr),
                       float(at_risk), int(renewals), float(renewals_arr),
                       renewal_window_days)


def choices(store: ScoreStore, run_id: int) -> BookChoices:
    """The distinct owners and segments of run `run_id` ('' included when some are blank)."""
    with _reading(store) as conn:
        owners = conn.execute(sa.select(_S.csm_owner).distinct()
                              .where(_S.run_id == run_id).order_by(_S.csm_owner)).scalars()
        owner_list = list(owners)
        segments = conn.execute(sa.select(_S.segment).distinct()
                                .where(_S.run_id == run_id).order_by(_S.segment)).scalars()
        return BookChoices(owner_list, list(segments))


def _book(run_id: int, csm_owner: str | None, segment: str | None) -> list[Any]:
    where: list[Any] = [_S.run_id == run_id]
    if csm_owner is not None:
        where.append(_S.csm_owner == csm_owner)
    if segment is not None:
        where.append(_S.segment == segment)
    return where


def _reading(store: ScoreStore) -> AbstractContextManager[sa.Connection]:
    # The store's own read context: a pooled connection, and any database error turned
    # into a ScoreStoreError that names the store and says what to check.
    return store._reading()
