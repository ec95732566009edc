"""Point-in-time windows: the one place that decides which records a snapshot may see.

Every feature family asks its questions through this module, so the conventions live
here and nowhere else:

- an *event* at time ``t`` lies in the window of length ``w`` before a snapshot at
  ``as_of`` when ``as_of - w <= t < as_of``; without a window, every ``t < as_of`` counts.
  A record stamped exactly at ``as_of`` is never seen by that snapshot;
- a *lifetime* ``[start, end]`` (a ticket from opened_at to closed_at) is open at
  ``as_of`` when ``start < as_of <= end``, a missing end meaning still open: it began
  before the snapshot and had not ended before it. A ticket closed at or after ``as_of``
  was still open at ``as_of``.

Records are indexed once by ``(group, time)``: the group is an integer code (an account,
or an account and event type) and the time an int64 in whatever unit the caller also
uses for its queries (nanoseconds or whole days). A record's key is
``group * span + rank(time)``, its time's position among the distinct record times, so
one ``np.searchsorted`` over a sorted int64 array answers a window for every snapshot at
once — no per-account loops, and exact comparisons whatever the time unit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

# Above this many distinct values a bincount would cost more than sorting.
_BINCOUNT_RANGE = 10_000_000


@dataclass(frozen=True)
class Queries:
    """One question per snapshot row: a group code and the snapshot's moment.

    `order`, when known, sorts the rows by (group, moment). It is only a speed hint:
    searching sorted needles keeps the sorted records in cache. Shifting every moment
    by one amount, or moving every group to `group * k + c`, keeps it valid.
    """

    groups: np.ndarray  # int64
    moments: np.ndarray  # int64, same unit as the indexed times
    order: np.ndarray | None = None

    @classmethod
    def sorted_hint(cls, groups: np.ndarray, moments: np.ndarray) -> Queries:
        groups = np.asarray(groups, dtype=np.int64)
        moments = np.asarray(moments, dtype=np.int64)
        return cls(groups, moments, np.lexsort((moments, groups)))

    def shifted(self, delta: int) -> Queries:
        """The same groups at `moments + delta` (e.g. the 28 days before the last 28)."""
        return Queries(self.groups, self.moments + delta, self.order)

    def regrouped(self, groups: np.ndarray) -> Queries:
        """Other groups at the same moments; keep the hint only for monotone regroupings."""
        return Queries(np.asarray(groups, dtype=np.int64), self.moments, self.order)

    def __len__(self) -> int:
        return len(self.moments)


def _ranks(times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct times and each time's position among them.

    Linear time when the times span a small range (whole days): a lookup table instead
    of a sort or a search.
    """
    if len(times) == 0:
        return times, np.zeros(0, dtype=np.int64)
    low, high = int(times.min()), int(times.max())
    if high - low < _BINCOUNT_RANGE:
        present = np.bincount(times - low, minlength=high - low + 1) > 0
        position = np.cumsum(present, dtype=np.int64) - 1
        return np.flatnonzero(present).astype(np.int64) + low, position[times - low]
    distinct = np.unique(times)
    return distinct, np.searchsorted(distinct, times)


class EventIndex:
    """Records sorted by (group, time), answering window questions for many snapshots.

    Positions returned by the methods refer to the sorted order; `values` passed in are
    aligned with the rows as given and are reordered here.
    """

    def __init__(self, groups: np.ndarray, times: np.ndarray,
                 tiebreak: np.ndarray | None = None) -> None:
        """`tiebreak` orders records of one group at the same time, so "latest" does
        not depend on the input row order."""
        groups = np.asarray(groups, dtype=np.int64)
        times = np.asarray(times, dtype=np.int64)
        self._distinct, rank = _ranks(times)
        self._span = len(self._distinct) + 1
        keys = groups * self._span + rank
        del rank
        # None: the records came in (group, time) order already; nothing to permute.
        self._order: np.ndarray | None = None
        if tiebreak is not None:
            self._order = np.lexsort((tiebreak, keys))
        elif len(keys) > 1 and not bool(np.all(keys[1:] >= keys[:-1])):
            self._order = np.argsort(keys, kind="stable")  # runs of sorted input are cheap
        self._keys = self.sort(keys)
        self.times = self.sort(times)

    def sort(self, values: np.ndarray) -> np.ndarray:
        """Values given in input row order, in the index's sorted order."""
        return values if self._order is None else values[self._order]

    def rows(self, positions: np.ndarray) -> np.ndarray:
        """Input row numbers of sorted positions."""
        return positions if self._order is None else self._order[positions]

    def __len__(self) -> int:
        return len(self._keys)

    def before(self, queries: Queries, *, inclusive: bool = False) -> np.ndarray:
        """Position just past the group's last record with time < moment (<= if inclusive)."""
        rank = np.searchsorted(self._distinct, queries.moments,
                               side="right" if inclusive else "left")
        return self._search(queries.groups * self._span + rank, queries.order)

    def group_start(self, queries: Queries) -> np.ndarray:
        """Position of the group's first record."""
        return self._search(queries.groups * self._span, queries.order)

    def _search(self, needles: np.ndarray, order: np.ndarray | None) -> np.ndarray:
        if order is None:
            return np.searchsorted(self._keys, needles, side="left")
        out = np.empty(len(needles), dtype=np.int64)
        out[order] = np.searchsorted(self._keys, needles[order], side="left")
        return out

    def window(self, queries: Queries, window: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Sorted positions [lo, hi) of the records with `moment - window <= t < moment`."""
        hi = self.before(queries)
        if window is None:
            return self.group_start(queries), hi
        return self.before(queries.shifted(-window)), hi

    def count(self, queries: Queries, window: int | None = None) -> np.ndarray:
        lo, hi = self.window(queries, window)
        return hi - lo

    def total(self, values: np.ndarray, queries: Queries, window: int | None = None
              ) -> np.ndarray:
        """Sum of `values` over each window (float64)."""
        return self.summer(values)(queries, window)

    def summer(self, values: np.ndarray) -> Callable[[Queries, int | None], np.ndarray]:
        """Window sums of `values`, with the prefix sums computed once for many windows.

        The running sums restart at each group, so a group's sums depend on its own
        records alone, to the last bit: an account's features are the same whatever
        other accounts are indexed with it (one pass over the base, or one bucket).
        """
        ordered = self.sort(np.asarray(values, np.float64))
        groups = self._keys // self._span
        running = pd.Series(ordered).groupby(groups, sort=False).cumsum().to_numpy()

        def over(queries: Queries, window: int | None = None) -> np.ndarray:
            lo, hi = self.window(queries, window)
            out = np.zeros(len(lo))
            seen = np.flatnonzero(hi > lo)
            last = hi[seen] - 1
            before = lo[seen] - 1
            inside = before >= 0
            inside[inside] = groups[before[inside]] == groups[last[inside]]
            out[seen] = running[last] - np.where(inside, running[np.maximum(before, 0)], 0.0)
            return out

        return over

    def latest(self, queries: Queries, nth: int = 1) -> np.ndarray:
        """Sorted position of the nth latest record before each moment, -1 when none."""
        hi = self.before(queries)
        position = hi - nth
        return np.where(position >= self.group_start(queries), position, -1)

    def take(self, values: np.ndarray | pd.Series, positions: np.ndarray) -> np.ndarray:
        """Numeric `values` (input row order) at sorted `positions`; NaN where -1."""
        ordered = self.sort(np.asarray(values, dtype=np.float64))
        found = positions >= 0
        out = np.full(len(positions), np.nan)
        out[found] = ordered[positions[found]]
        return out

    def elapsed(self, queries: Queries, positions: np.ndarray) -> np.ndarray:
        """Moment minus the record time at sorted `positions` (float64); NaN where -1."""
        found = positions >= 0
        out = np.full(len(positions), np.nan)
        out[found] = queries.moments[found] - self.times[positions[found]]
        return out

    def pairs(self, queries: Queries, window: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Every (query row, input row) with the record in the query's window."""
        lo, hi = self.window(queries, window)
        rows, sorted_positions = expand(lo, hi)
        return rows, self.rows(sorted_positions)


def expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges [lo_i, hi_i): the pairs (i, p) with p in the range, without a loop."""
    n = np.maximum(hi - lo, 0)
    rows = np.repeat(np.arange(len(n)), n)
    offsets = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    return rows, np.repeat(lo, n) + offsets


def count_open(queries: Queries, groups: np.ndarray, starts: np.ndarray,
               ends: np.ndarray, missing_end: np.ndarray) -> np.ndarray:
    """How many lifetimes are open at each moment (`start < moment <= end`).

    Ends never precede starts (the contract checks it), so the open ones are those
    started before the moment minus those ended before it.
    """
    started = EventIndex(groups, starts).count(queries)
    closed = ~missing_end
    ended = EventIndex(groups[closed], ends[closed]).count(queries)
    return started - ended


def open_pairs(queries: Queries, groups: np.ndarray, starts: np.ndarray,
               ends: np.ndarray, missing_end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (query row, lifetime row) with the lifetime open at the query's moment.

    Indexes the snapshots rather than the lifetimes: each lifetime finds the snapshots of
    its group with `start < moment <= end`, so the pairs cost what they return.
    """
    snapshots = EventIndex(queries.groups, queries.moments)
    groups = np.asarray(groups, dtype=np.int64)
    last = np.where(missing_end, np.iinfo(np.int64).max, ends)
    lo = snapshots.before(Queries(groups, np.asarray(starts, np.int64)), inclusive=True)
    hi = snapshots.before(Queries(groups, last), inclusive=True)
    items, sorted_positions = expand(lo, hi)
    return snapshots.rows(sorted_positions), items


class DistinctCounter:
    """How many distinct entities (users, features, days) had a record in each window.

    An entity with a record at ``t`` is in the window of the snapshots with
    ``t < moment <= t + w``. Its records whose gaps are at most ``w`` form a *run*, whose
    spans merge into one, ``first < moment <= last + w``; runs of one entity never
    overlap. So the distinct count at a moment is the runs begun before it minus the
    runs ended before it — two indexes over runs, which are far fewer than records.
    """

    def __init__(self, groups: np.ndarray, entities: np.ndarray, times: np.ndarray,
                 windows: tuple[int, ...]) -> None:
        order = _entity_time_order(np.asarray(entities, np.int64), np.asarray(times, np.int64))
        groups = np.asarray(groups, dtype=np.int64)[order]
        entities = np.asarray(entities, dtype=np.int64)[order]
        times = np.asarray(times, dtype=np.int64)[order]
        new_entity = np.ones(len(times), dtype=bool)
        new_entity[1:] = entities[1:] != entities[:-1]
        gaps = np.diff(times, prepend=times[:1])
        self._runs: dict[int, tuple[EventIndex, EventIndex]] = {}
        for window in windows:
            first = new_entity | (gaps > window)
            last = np.append(first[1:], True) if len(first) else first
            self._runs[window] = (EventIndex(groups[first], times[first]),
                                  EventIndex(groups[last], times[last] + window))

    def count(self, queries: Queries, window: int) -> np.ndarray:
        begun, ended = self._runs[window]
        return begun.count(queries) - ended.count(queries)


def _entity_time_order(entities: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Row order by (entity, time); one int64 stable argsort when the pair fits a key."""
    if len(times) == 0:
        return np.arange(0)
    low = int(times.min())
    span = int(times.max()) - low + 1
    if int(entities.max()) + 1 < np.iinfo(np.int64).max // span:
        return np.argsort(entities * span + (times - low), kind="stable")
    return np.lexsort((times, entities))
