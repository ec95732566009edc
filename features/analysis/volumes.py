"""Records per calendar month of each source table: the first check that the data is whole.

A month with half the usual usage events or no tickets at all is usually an export that
broke, not customers that left; seeing every table's monthly volume side by side shows
it before any feature is built on it. Months are counted by each table's own time column
(`created_at`, `start_date`, `timestamp`, `opened_at`, `responded_at`, `noted_at`) in UTC.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.sources.contract import TABLES
from features.sources.loading import Sources


def monthly_volumes(sources: Sources, since: pd.Timestamp | None = None) -> pd.DataFrame:
    """Rows per month (index: first day of the month, UTC-naive) and table (columns).

    Tables without a time column are left out; every month from the first record to the
    last has a row, and months where a table has no rows count 0.
    `since` drops earlier months (accounts created years before the activity data
    otherwise stretch the axis).
    """
    counts: dict[str, pd.Series] = {}
    for name, frame in sources.tables.items():
        column = TABLES[name].time_column
        if column is None:
            continue
        stamps = frame[column].dropna()
        months = stamps.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype(
            "datetime64[M]")
        values, sizes = np.unique(months, return_counts=True)
        counts[name] = pd.Series(sizes, index=pd.DatetimeIndex(values.astype("datetime64[ns]")),
                                 dtype="int64")
    out = pd.DataFrame(counts).sort_index()
    if len(out):  # a month without any record is a gap to see, so it gets a row of zeros
        out = out.reindex(pd.date_range(out.index.min(), out.index.max(), freq="MS"))
    out = out.fillna(0).astype("int64")
    if since is not None:
        start = pd.Timestamp(since)
        start = start.tz_convert("UTC").tz_localize(None) if start.tzinfo else start
        out = out[out.index >= start.to_period("M").to_timestamp()]
    out.index.name = "month"
    return out
