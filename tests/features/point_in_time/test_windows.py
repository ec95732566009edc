"""The window helper on hand-made records: half-open windows, lifetimes, distinct counts."""

from __future__ import annotations

import numpy as np

from features.point_in_time.windows import (
    DistinctCounter,
    EventIndex,
    Queries,
    count_open,
    open_pairs,
)


def _q(groups: list[int], moments: list[int]) -> Queries:
    return Queries(np.array(groups, dtype=np.int64), np.array(moments, dtype=np.int64))


def test_window_includes_its_start_and_excludes_as_of():
    index = EventIndex(np.array([0, 0, 0, 0, 1]), np.array([10, 20, 30, 40, 25]))
    queries = _q([0, 0, 0, 1, 2], [30, 31, 41, 30, 30])
    assert index.count(queries, 10).tolist() == [1, 1, 1, 1, 0]  # [20, 30): 20 in, 30 out
    assert index.count(queries).tolist() == [2, 3, 4, 1, 0]
    values = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    assert index.total(values, queries, 10).tolist() == [2.0, 4.0, 8.0, 16.0, 0.0]


def test_latest_and_elapsed_look_only_before_as_of():
    index = EventIndex(np.array([0, 0, 1]), np.array([10, 20, 5]))
    queries = _q([0, 0, 0, 1], [10, 11, 25, 5])
    latest = index.latest(queries)
    assert index.elapsed(queries, latest)[1:3].tolist() == [1.0, 5.0]
    assert latest[0] == -1 and latest[3] == -1  # an event exactly at as_of is not seen
    assert index.take(np.array([7.0, 9.0, 3.0]), index.latest(queries, nth=2))[2] == 7.0


def test_ties_are_ordered_by_the_tiebreak_not_the_row_order():
    for order in ([0, 1], [1, 0]):
        scores = np.array([3.0, 9.0])[order]
        index = EventIndex(np.array([0, 0]), np.array([5, 5]), tiebreak=scores)
        assert index.take(scores, index.latest(_q([0], [6])))[0] == 9.0


def test_lifetimes_closed_at_or_after_as_of_are_open():
    starts = np.array([0, 0, 10, 50])
    ends = np.array([10, 20, 0, 60])
    missing = np.array([False, False, True, False])
    queries = _q([0, 0, 0, 0], [10, 11, 20, 21])
    # at 10: #0 closed at 10 counts open; #2 starts at 10, not before it.
    assert count_open(queries, np.zeros(4, np.int64), starts, ends, missing).tolist() == [
        2, 2, 2, 1]
    rows, items = open_pairs(queries, np.zeros(4, np.int64), starts, ends, missing)
    assert sorted(zip(rows.tolist(), items.tolist(), strict=True)) == [
        (0, 0), (0, 1), (1, 1), (1, 2), (2, 1), (2, 2), (3, 2)]


def test_distinct_counts_entities_once_per_window():
    groups = np.array([0, 0, 0, 0, 0, 1])
    users = np.array([1, 1, 2, 1, 2, 3])
    days = np.array([1, 2, 2, 40, 70, 3])
    counter = DistinctCounter(groups, users, days, (28, 60))
    queries = _q([0, 0, 0, 0, 0, 1, 1], [1, 2, 3, 29, 31, 4, 32])
    assert counter.count(queries, 28).tolist() == [0, 1, 2, 2, 0, 1, 0]
    assert counter.count(queries, 60).tolist() == [0, 1, 2, 2, 2, 1, 1]
    later = _q([0, 0, 0, 0], [41, 71, 100, 131])
    assert counter.count(later, 28).tolist() == [1, 1, 0, 0]
    assert counter.count(later, 60).tolist() == [2, 2, 2, 0]


def test_distinct_counts_zero_without_records():
    """Usage whose logins name no user gives the counter nothing: every count is 0."""
    none = np.array([], dtype=np.int64)
    counter = DistinctCounter(none, none, none, (28, 90))
    assert counter.count(_q([0, 1], [10, 20]), 90).tolist() == [0, 0]


def test_sort_hints_change_no_answer():
    index = EventIndex(np.array([2, 0, 1, 0, 2]), np.array([5, 3, 9, 1, 7]))
    groups, moments = np.array([2, 0, 1, 2, 0]), np.array([8, 4, 10, 6, 2])
    plain = index.count(Queries(groups, moments), 5)
    hinted = index.count(Queries.sorted_hint(groups, moments), 5)
    assert plain.tolist() == hinted.tolist() == [2, 2, 1, 1, 1]
