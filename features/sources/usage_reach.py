"""The usage scoring at one as_of can use, and a Parquet usage table trimmed to it as read.

No usage feature looks back further than a fixed number of days before its as_of, and
neither does the evidence shown beside a score, except "days since the last use", which
needs each (account, event slot)'s latest day with a positive quantity
(`point_in_time.families.usage_rows`). Scoring therefore needs usage from `as_of - days` on,
plus the rows on each (account_id, event_type)'s last day of use before that: a few
months of a table that may hold years and tens of millions of rows. The rest is left in
the file, never converted, typed or checked, which is where most of a scoring run's
loading time went.

Trimming keeps whole rows in file order and changes none, so every kept row types and
checks exactly as it would in the whole table; each (account_id, event_type) pair's last
use is a superset of what any coarser grouping (parsed ids, event slots) needs. Rows
dated after as_of stay, so the check against the data's end still sees them, as do rows
without a timestamp (reported as empty). Facts of the whole table that later stages read
are kept by keeping a row that carries each: the earliest record (where activity history
starts), the latest (the data's end when nobody states it) and, when no kept row names a
user, the first one that does (the evidence tells "no user ids" from "no active users").

Quantities are read the way parsing reads them (float32, missing meaning 1); a table
whose timestamps or quantities are stored as text or another type is not trimmed.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.sources.contract import DAY_NS
from features.sources.readers import parse_data_end

log = logging.getLogger(__name__)

_NO_TIME = np.iinfo(np.int64).max  # where a row has no timestamp: kept, like later rows
_NS_PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


@dataclass(frozen=True)
class UsageReach:
    """Scoring at `as_of` reads `days` of usage in full before it, and each account and
    event type's last use before those days.

    `as_of` None means the day after the data's end, the latest as_of a run can score.
    Rows kept for one as_of serve any later one as well: its full days are kept, and a
    last use before them is either among those days or the one kept.
    """

    days: int
    as_of: dt.date | None = None

    def first_day(self, data_end: pd.Timestamp) -> pd.Timestamp:
        """The first day read in full (midnight UTC), for data ending on `data_end`."""
        as_of = (pd.Timestamp(self.as_of, tz="UTC") if self.as_of is not None
                 else data_end.normalize() + pd.Timedelta(days=1))
        return as_of.normalize() - pd.Timedelta(days=self.days)


@dataclass(frozen=True)
class Trim:
    """Which rows of a usage table a reach keeps, and the first day it reads in full."""

    keep: np.ndarray  # bool, one per row of the table
    first_day: pd.Timestamp


def trim_usage(table: pa.Table, reach: UsageReach, data_end: pd.Timestamp | None
               ) -> Trim | None:
    """The rows of a usage table `reach` needs (see the module docstring), or None when
    they cannot be told exactly from the stored types.

    `data_end` is the data's stated last day, or None to take the latest usage record's
    day (never after the day the whole data ends, so no needed row is dropped).
    """
    if not {"account_id", "timestamp", "event_type"} <= set(table.column_names):
        return None  # loading reports the missing columns
    stamps = table.column("timestamp")
    if not pa.types.is_timestamp(stamps.type):
        log.info("usage_events: timestamps are not stored as timestamps; reading every row")
        return None
    if "quantity" in table.column_names and not _is_number(table.schema.field("quantity")):
        log.info("usage_events: quantities are not stored as numbers; reading every row")
        return None
    span = pc.min_max(stamps)
    if not span["max"].is_valid:
        return None
    unit = stamps.type.unit
    first_day = reach.first_day(data_end if data_end is not None else parse_data_end(
        pd.Timestamp(span["max"].value, unit=unit)))
    keep = _keep(table.to_batches(), first_day.value // _NS_PER_UNIT[unit],
                 DAY_NS // _NS_PER_UNIT[unit])
    for moment in (span["min"], span["max"]):
        keep[pc.index(stamps, moment).as_py()] = True
    if "user_id" in table.column_names:
        users = table.column("user_id")
        if _first_named(users, keep) is None:
            named = _first_named(users, ~keep)
            if named is not None:
                keep[named] = True
    return Trim(keep, first_day)


def _is_number(field: pa.Field) -> bool:
    return bool(pa.types.is_integer(field.type) or pa.types.is_floating(field.type))


NO_USE = np.iinfo(np.int64).min  # a group's last use when it has none


def note_last_uses(latest: np.ndarray, groups: np.ndarray, times: np.ndarray,
                   uses: np.ndarray, cut: int) -> None:
    """Raise `latest[g]` to the time of group g's last use before `cut` among these rows
    (`uses` says which rows record a use)."""
    old_use = uses & (times < cut)
    np.maximum.at(latest, groups[old_use], times[old_use])


def within_reach(times: np.ndarray, groups: np.ndarray, latest: np.ndarray, cut: int,
                 day: int, among: np.ndarray | None = None) -> np.ndarray:
    """Rows at or after `cut`, and rows on the day of their group's last use before it.

    The one rule of what a feature can see of old usage: everything since the cut, plus
    each group's last day of use for "days since the last use". `latest` holds each
    group's last use (`note_last_uses`, `NO_USE` for none) and `day` is a day's length in
    the unit of `times`, whose days start at multiples of it. Only rows `among` (all when
    None) are looked up in `latest`; other rows before the cut are left out.
    """
    # A group without a use starts its day at the cut, which keeps no earlier row of it.
    # A row is on that day when it lies less than a day after its start: as unsigned
    # numbers, rows before the start lie even further.
    start = np.where(latest > NO_USE, latest // day * day, cut)
    reach = times >= cut
    old = ~reach if among is None else among & ~reach
    reach[old] = (times[old] - start[groups[old]]).view(np.uint64) < day
    return reach


def _keep(batches: list[pa.RecordBatch], cut: int, day: int) -> np.ndarray:
    """The rows of `within_reach` for each (account_id, event_type) pair (times in the
    column's unit).

    Pairs are numbered within each batch from its dictionary indices, with no per-row
    lookup; only the batch's few pairs are mapped to the pairs of the whole table.
    """
    accounts = _Numbering([b.column("account_id") for b in batches])
    kinds = _Numbering([b.column("event_type") for b in batches])
    n_pairs = accounts.count * kinds.count
    latest = np.full(n_pairs + 1, NO_USE)  # the last slot: rows without an account or type

    def pairs(i: int) -> tuple[np.ndarray, np.ndarray]:
        """The batch's pair of each row, and the table's pair of each batch pair."""
        account_of, kind_of = accounts.lookups[i], kinds.lookups[i]
        table_pair = account_of[:, None] * kinds.count + kind_of[None, :]
        table_pair[(account_of < 0)[:, None] | (kind_of < 0)[None, :]] = n_pairs
        width = np.int32 if table_pair.size < 2**31 else np.int64  # dictionary indices
        row_pair = (accounts.indices(i).astype(width, copy=False) * len(kind_of)
                    + kinds.indices(i).astype(width, copy=False))
        return row_pair, table_pair.ravel()

    for i, batch in enumerate(batches):
        row_pair, table_pair = pairs(i)
        last = np.full(len(table_pair), NO_USE)
        note_last_uses(last, row_pair, _times(batch), _uses(batch), cut)
        np.maximum.at(latest, table_pair, last)
    latest[n_pairs] = NO_USE
    keep = []
    for i, batch in enumerate(batches):
        row_pair, table_pair = pairs(i)
        keep.append(within_reach(_times(batch), row_pair, latest[table_pair], cut, day))
    return np.concatenate(keep) if keep else np.zeros(0, dtype=bool)


class _Numbering:
    """Numbers every distinct value of one column across record batches.

    `lookups[i]` gives the number of each entry of batch i's dictionary, and -1 in an
    extra last entry, which `indices` gives missing values.
    """

    def __init__(self, columns: list[pa.Array]) -> None:
        self.columns = [c if pa.types.is_dictionary(c.type) else pc.dictionary_encode(c)
                        for c in columns]
        seen: dict[object, int] = {}
        self.lookups = [np.array([seen.setdefault(v, len(seen))
                                  for v in c.dictionary.to_pylist()] + [-1], dtype=np.int64)
                        for c in self.columns]
        self.count = len(seen)

    def indices(self, batch: int) -> np.ndarray:
        indices = self.columns[batch].indices
        if indices.null_count:
            indices = pc.fill_null(indices, len(self.lookups[batch]) - 1)
        return indices.to_numpy()


def _times(batch: pa.RecordBatch) -> np.ndarray:
    """The batch's timestamps as integers in their unit; a missing one as `_NO_TIME`."""
    values = batch.column("timestamp").view(pa.int64())
    if values.null_count:
        values = pc.fill_null(values, _NO_TIME)
    return values.to_numpy()


def _uses(batch: pa.RecordBatch) -> np.ndarray:
    """Rows whose quantity, typed as parsing types it, is positive (missing means 1)."""
    if "quantity" not in batch.schema.names:
        return np.ones(batch.num_rows, dtype=bool)
    quantity = batch.column("quantity").to_numpy(zero_copy_only=False)
    with np.errstate(over="ignore", invalid="ignore"):
        return ~(quantity.astype(np.float32) <= 0)


def _first_named(column: pa.ChunkedArray, among: np.ndarray) -> int | None:
    """The first of the rows `among` with a user id that parsing keeps (present and not
    blank), if any."""
    offset = 0
    for chunk in column.chunks:
        at = np.flatnonzero(_named(chunk) & among[offset:offset + len(chunk)])
        if len(at):
            return offset + int(at[0])
        offset += len(chunk)
    return None


def _named(chunk: pa.Array) -> np.ndarray:
    if pa.types.is_dictionary(chunk.type):
        named = np.append(_named(chunk.dictionary), False)
        return named[pc.fill_null(chunk.indices, len(named) - 1).to_numpy()]
    if pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type):
        blank = pc.equal(pc.utf8_trim_whitespace(chunk), "")
        return pc.fill_null(pc.invert(blank), False).to_numpy(zero_copy_only=False)
    return chunk.is_valid().to_numpy(zero_copy_only=False)
