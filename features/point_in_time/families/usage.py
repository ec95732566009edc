"""Usage features: volumes, active users and days, adoption breadth, recency and trends.

All windows are whole days before as_of (`point_in_time.windows`). Trends compare the last 28
days with the 28 before them: the ratio is after / before and the percent change
100 × (after − before) / before; both read "no change" (1 and 0) when both windows are
empty and are missing when only the earlier one is, since growth from nothing has no
finite size. "Days since" features are whole days and missing when the thing never
happened, which the model treats as its own case.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.point_in_time.families import busiest_user
from features.point_in_time.families.usage_rows import (
    LOGIN_SLOT,
    MINUTES_SLOT,
    UsageRows,
    usage_rows,
)
from features.point_in_time.spine import Spine
from features.point_in_time.windows import DistinctCounter, EventIndex, Queries

WINDOWS = (7, 28, 90)
MONTH = 28
QUARTER = WINDOWS[-1]  # the longest window (at most usage_rows.LOOKBACK_DAYS)
# Account-days below which a dense bincount finds active days faster than hashing.
_DENSE_CELLS = 200_000_000


def trend(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ratio, percent change) of `after` over `before`, defined as the module says."""
    before = np.asarray(before, np.float64)
    after = np.asarray(after, np.float64)
    safe = np.where(before > 0, before, 1.0)
    ratio = np.where(before > 0, after / safe, np.where(after == 0, 1.0, np.nan))
    pct = np.where(before > 0, 100.0 * (after - before) / safe,
                   np.where(after == 0, 0.0, np.nan))
    return ratio, pct


def pace(recent: np.ndarray, quarter: np.ndarray) -> np.ndarray:
    """Daily use in the last 28 days over daily use in the last 90 (1: steady, below 1:
    wearing down); missing when the 90 days saw no use."""
    recent = np.asarray(recent, np.float64)
    quarter = np.asarray(quarter, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(quarter > 0, (recent / MONTH) / (quarter / QUARTER), np.nan)


def compute(spine: Spine, usage: pd.DataFrame, seats: pd.Series,
            key_features: Sequence[str]) -> pd.DataFrame:
    """Usage features per spine row; `seats` is each row's current-term seat count."""
    rows = usage_rows(spine, usage, key_features)
    days = spine.queries("day")
    out = _volumes(rows, days, key_features)
    out.update(_activity(rows, days, seats, out["session_minutes_28d"]))
    out.update(busiest_user.compute(rows, days))
    return pd.DataFrame(out)


def _volumes(rows: UsageRows, days: Queries, key_features: Sequence[str]
             ) -> dict[str, np.ndarray]:
    """Sums per window, per-key uses and recency, and the login/minutes/product trends."""
    index = EventIndex(rows.groups, rows.days)
    window_sum = index.summer(rows.amounts)

    def at(slot: int) -> Queries:
        return days.regrouped(rows.group(days.groups, slot))

    def total(slots: Sequence[int], queries_shift: int, window: int) -> np.ndarray:
        return sum((window_sum(at(s).shifted(queries_shift), window) for s in slots),
                   start=np.zeros(len(days)))

    def since(slot: int) -> np.ndarray:
        return index.elapsed(at(slot), index.latest(at(slot)))

    product = [*rows.key_slots, rows.other_slot]
    measures = {"logins": [LOGIN_SLOT], "session_minutes": [MINUTES_SLOT],
                "product_events": product}
    out: dict[str, np.ndarray] = {}
    for measure, slots in measures.items():
        for window in WINDOWS:
            out[f"{measure}_{window}d"] = total(slots, 0, window)
        out[f"{measure}_prev_28d"] = total(slots, -MONTH, MONTH)
    for key, slot in zip(key_features, rows.key_slots, strict=True):
        for window in WINDOWS:
            out[f"{key}_uses_{window}d"] = window_sum(at(slot), window)
        out[f"days_since_{key}_use"] = since(slot)
        out[f"{key}_pace_28d_vs_90d"] = pace(out[f"{key}_uses_28d"], out[f"{key}_uses_90d"])
    out["days_since_last_login"] = since(LOGIN_SLOT)
    for measure in measures:
        ratio, pct = trend(out[f"{measure}_prev_28d"], out[f"{measure}_28d"])
        out[f"{measure}_trend_ratio"], out[f"{measure}_trend_pct"] = ratio, pct
    return out


def _activity(rows: UsageRows, days: Queries, seats: pd.Series, minutes: np.ndarray
              ) -> dict[str, np.ndarray]:
    """Distinct active days, users and key features; utilisation and minutes per user."""
    accounts = rows.groups % rows.n_accounts
    users = DistinctCounter(rows.login_accounts, rows.login_users, rows.login_days,
                            (MONTH, QUARTER))
    now, before = users.count(days, MONTH), users.count(days.shifted(-MONTH), MONTH)
    quarter = users.count(days, QUARTER)
    out: dict[str, np.ndarray] = {
        "active_days_28d": _active_days(accounts, rows.days).count(days, MONTH),
        "active_users_28d": now,
        "active_users_90d": quarter,
        "active_users_prev_28d": before,
    }
    slots = rows.groups // rows.n_accounts
    is_key = (slots >= rows.key_slots.start) & (slots < rows.key_slots.stop)
    breadth = DistinctCounter(accounts[is_key], rows.groups[is_key], rows.days[is_key],
                              (28, 90))
    for window in (28, 90):
        out[f"adoption_breadth_{window}d"] = breadth.count(days, window)
    seat_counts = seats.to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        for window, active in ((MONTH, now), (QUARTER, quarter)):
            out[f"license_utilisation_{window}d"] = np.where(seat_counts > 0,
                                                             active / seat_counts, np.nan)
        out["minutes_per_active_user_28d"] = np.where(now > 0, minutes / now, np.nan)
    ratio, pct = trend(before, now)
    out["active_users_trend_ratio"], out["active_users_trend_pct"] = ratio, pct
    return out


def _active_days(accounts: np.ndarray, days: np.ndarray) -> EventIndex:
    """One record per account and day with any usage, in (account, day) order."""
    if len(days) == 0:
        return EventIndex(accounts, days)
    first = int(days.min())
    span = int(days.max()) - first + 1
    cells = accounts * span + (days - first)
    if (int(accounts.max()) + 1) * span <= _DENSE_CELLS:
        present = np.flatnonzero(np.bincount(cells))  # sorted, without a sort
    else:
        present = np.sort(pd.unique(cells))
    return EventIndex(present // span, present % span + first)
