"""The snapshot spine: which (account, as_of) rows exist, their current term and label.

An account is in the spine at `as_of` when one of its terms is active then
(`start_date <= as_of < end_date`); with several overlapping terms (an early renewal)
the latest-started one is the current term. Accounts between terms — churned, or in a
renewal's grace period — have no row. The label is the current term's outcome from
`terms.settled_outcomes`: NA until `end_date + grace_days` lies within the data,
renewed or not, with `label_resolved_at` (that moment) telling a training split which
rows' labels were known before its cutoff.

Snapshots are taken at 00:00 UTC; every as_of is floored to its day, so a feature never
sees part of the snapshot's own day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from features.point_in_time.terms import settled_outcomes
from features.point_in_time.windows import Queries
from features.sources.contract import DAY_NS

IDENTITY_COLUMNS = ("account_id", "as_of", "subscription_id", "term_end",
                    "label_resolved_at", "churned")


@dataclass(frozen=True)
class Spine:
    """Snapshot rows plus the integer account codes every family keys its records by.

    `frame` holds the identity columns and `term_start`, one row per snapshot, ordered by
    as_of then account_id. `accounts` is the sorted account universe the codes index.
    """

    frame: pd.DataFrame
    accounts: pd.Index
    codes: np.ndarray  # int64 account code per row

    def __len__(self) -> int:
        return len(self.frame)

    def encode(self, account_ids: pd.Series) -> np.ndarray:
        """Account codes of a table's account_id column (-1 for unknown accounts)."""
        return encode_ids(account_ids, self.accounts)

    @property
    def as_of_ns(self) -> np.ndarray:
        return timestamps_ns(self.frame["as_of"])

    @property
    def as_of_days(self) -> np.ndarray:
        return self.as_of_ns // DAY_NS

    def queries(self, unit: Literal["ns", "day"] = "ns") -> Queries:
        """One query per row at its as_of, in nanoseconds or whole days."""
        moments = self.as_of_ns if unit == "ns" else self.as_of_days
        return Queries.sorted_hint(self.codes, moments)


def timestamps_ns(series: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 nanoseconds since the epoch (NaT becomes int64 min)."""
    return np.asarray(series.dt.as_unit("ns").array.asi8, dtype=np.int64)


def encode_ids(ids: pd.Series, universe: pd.Index) -> np.ndarray:
    """Positions of `ids` in `universe`; hashes each distinct id once, not each row."""
    codes, uniques = pd.factorize(ids)
    lookup = np.append(universe.get_indexer(pd.Index(uniques)), -1).astype(np.int64)
    return lookup[codes]  # factorize marks missing ids -1, which picks the appended -1


def snapshot_dates(start: dt.date | pd.Timestamp, end: dt.date | pd.Timestamp,
                   freq: str = "monthly") -> pd.DatetimeIndex:
    """The as_of grid: first days of months (monthly) or Mondays (weekly), 00:00 UTC,
    from `start` to `end`, both included."""
    rule = {"monthly": "MS", "weekly": "W-MON"}.get(freq)
    if rule is None:
        raise ValueError(f"unknown snapshot frequency {freq!r}; use monthly or weekly")
    return pd.date_range(_utc_day(start), _utc_day(end), freq=rule)


def _utc_day(value: dt.date | pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.floor("D")


def build_spine(subscriptions: pd.DataFrame, accounts: pd.Series, data_end: pd.Timestamp,
                as_of: Iterable[dt.date | pd.Timestamp], grace_days: int = 30) -> Spine:
    """Snapshot rows of every account active at each as_of, with current term and label."""
    universe = pd.Index(np.sort(pd.unique(accounts.dropna().astype("str"))))
    dates = np.unique(np.array([_utc_day(d).value for d in as_of], dtype=np.int64))
    terms = settled_outcomes(subscriptions, data_end, grace_days)  # by account, start, id
    starts, ends = timestamps_ns(terms["start_date"]), timestamps_ns(terms["end_date"])
    lo = np.searchsorted(dates, starts, side="left")  # first as_of >= start
    hi = np.searchsorted(dates, ends, side="left")  # as_of < end
    n = np.maximum(hi - lo, 0)
    term_rows = np.repeat(np.arange(len(terms)), n)
    date_rows = np.repeat(lo, n) + np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    codes = encode_ids(terms["account_id"], universe)[term_rows]
    # Latest-started term per (account, as_of): rows of a term sort by start within an
    # account, so the last one of each (account, as_of) run is the current term.
    order = np.lexsort((term_rows, codes, date_rows))
    term_rows, codes, date_rows = term_rows[order], codes[order], date_rows[order]
    last = np.ones(len(order), dtype=bool)
    last[:-1] = (codes[1:] != codes[:-1]) | (date_rows[1:] != date_rows[:-1])
    term_rows, codes, date_rows = term_rows[last], codes[last], date_rows[last]
    current = terms.iloc[term_rows].reset_index(drop=True)
    frame = pd.DataFrame({
        "account_id": current["account_id"].astype("str"),
        "as_of": pd.to_datetime(dates[date_rows], utc=True).as_unit("ns"),
        "subscription_id": current["subscription_id"].astype("str"),
        "term_start": current["start_date"],
        "term_end": current["end_date"],
        "label_resolved_at": current["resolved_at"],
        "churned": current["churned"].astype("boolean"),
    })
    return Spine(frame, universe, codes.astype(np.int64))


def term_values(spine: Spine, subscriptions: pd.DataFrame, column: str) -> pd.Series:
    """A column of each row's current term (e.g. seats), aligned with the spine."""
    by_id = subscriptions.set_index("subscription_id")[column]
    values = by_id.reindex(pd.Index(spine.frame["subscription_id"]))
    return values.reset_index(drop=True)


def labels_at(subscriptions: pd.DataFrame, accounts: pd.Series, as_of: dt.date,
              known_through: pd.Timestamp, grace_days: int = 30) -> pd.Series:
    """Each account's label at `as_of` (True churned, False renewed, NA open or not
    active then), by account id: how a past run's scores or alerts are judged."""
    spine = build_spine(subscriptions, accounts, known_through, [as_of], grace_days)
    frame = spine.frame
    return pd.Series(frame["churned"].to_numpy(), index=frame["account_id"].astype(str),
                     dtype="boolean")
