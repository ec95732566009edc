"""Who carries an account's usage: its busiest user of the last 90 days, and their silence.

When the champion leaves, the user behind most of the sessions goes quiet while the
others carry on, long before the account's totals look bad. So for each snapshot the
busiest user is the one with the most login sessions in the 90 days before as_of (ties:
the one active last, then the smaller user code), and two features follow: the whole days
since that user was last active, and their share of the account's sessions in those 90
days. Both are missing when nobody logged in during the window.

The window is the usage family's longest (`usage.QUARTER`), so it needs no more history
than the other usage features (`usage_rows.LOOKBACK_DAYS`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.point_in_time.families.usage_rows import UsageRows
from features.point_in_time.windows import Queries

WINDOW_DAYS = 90


def compute(rows: UsageRows, days: Queries) -> dict[str, np.ndarray]:
    """`busiest_user_days_since_active` and `busiest_user_share_90d` per query row."""
    n = len(days)
    silent = np.full(n, np.nan)
    share = np.full(n, np.nan)
    if n == 0 or len(rows.login_days) == 0:
        return _named(silent, share)
    order = np.lexsort((rows.login_days, rows.login_accounts))
    acc, day = rows.login_accounts[order], rows.login_days[order]
    user, sessions = rows.login_users[order], rows.login_amounts[order]
    # The login rows of each query's account in [as_of - 90, as_of): one slice per query.
    key = acc * _SPAN + (day - _EPOCH_SHIFT)
    q_acc = days.groups
    lo = np.searchsorted(key, q_acc * _SPAN + (days.moments - WINDOW_DAYS - _EPOCH_SHIFT))
    hi = np.searchsorted(key, q_acc * _SPAN + (days.moments - _EPOCH_SHIFT))
    counts = hi - lo
    if counts.sum() == 0:
        return _named(silent, share)
    query = np.repeat(np.arange(n), counts)
    pos = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    per_user = pd.DataFrame({"query": query, "user": user[pos], "sessions": sessions[pos],
                             "day": day[pos]}).groupby(["query", "user"], sort=False).agg(
        sessions=("sessions", "sum"), last=("day", "max"))
    per_user = per_user.reset_index()
    totals = per_user.groupby("query", sort=False)["sessions"].sum()
    top = per_user.sort_values(["query", "sessions", "last", "user"],
                               ascending=[True, False, False, True], kind="stable")
    top = top.drop_duplicates("query")
    q = top["query"].to_numpy()
    silent[q] = days.moments[q] - top["last"].to_numpy()
    share[q] = top["sessions"].to_numpy() / totals.reindex(q).to_numpy()
    return _named(silent, share)


# Day numbers are packed with the account code into one sortable key; a day offset keeps
# the packed day non-negative for any date after 1900.
_EPOCH_SHIFT = -30_000
_SPAN = 200_000


def _named(silent: np.ndarray, share: np.ndarray) -> dict[str, np.ndarray]:
    return {"busiest_user_days_since_active": silent, "busiest_user_share_90d": share}
