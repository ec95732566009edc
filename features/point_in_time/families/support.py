"""Support features: ticket volume and its surge against the account's own year, open
backlog and its age, priority, escalations, resolution time and ticket CSAT.

A ticket is open at as_of when it was opened before as_of and not closed before it, so a
ticket closed at or after as_of still counts as open (`features.point_in_time.windows`). A ticket's
CSAT and resolution time exist once it is closed, so they count by close time. The
contract has no escalation time: the escalated flag is taken as known when the ticket
opens, a small look-ahead on tickets escalated after the snapshot.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.point_in_time.spine import Spine, timestamps_ns
from features.point_in_time.windows import EventIndex, Queries, count_open, open_pairs
from features.sources.contract import DAY_NS

HOUR_NS = 3_600 * 10**9
SERIOUS = ("high", "urgent")
YEAR_DAYS = 365


def compute(spine: Spine, tickets: pd.DataFrame) -> pd.DataFrame:
    known = spine.encode(tickets["account_id"]) >= 0
    tickets = tickets[known].reset_index(drop=True)
    accounts = spine.encode(tickets["account_id"])
    opened = timestamps_ns(tickets["opened_at"])
    closed = timestamps_ns(tickets["closed_at"])
    still_open = tickets["closed_at"].isna().to_numpy()
    queries = spine.queries("ns")
    opened_index = EventIndex(accounts, opened)
    serious = tickets["priority"].isin(SERIOUS).to_numpy()
    escalated = tickets["escalated"].fillna(False).to_numpy(dtype=bool)

    out: dict[str, np.ndarray] = {
        "tickets_opened_30d": opened_index.count(queries, 30 * DAY_NS),
        "tickets_opened_90d": opened_index.count(queries, 90 * DAY_NS),
        "open_tickets": count_open(queries, accounts, opened, closed, still_open),
        "oldest_open_ticket_days": _oldest_open_days(queries, accounts, opened, closed,
                                                     still_open),
        "open_high_urgent_tickets": count_open(queries, accounts[serious], opened[serious],
                                               closed[serious], still_open[serious]),
        "escalations_90d": opened_index.total(escalated, queries, 90 * DAY_NS),
    }
    year = opened_index.count(queries, YEAR_DAYS * DAY_NS)
    out["tickets_opened_365d"] = year
    out["ticket_surge_ratio"] = surge(out["tickets_opened_30d"], year)
    done = ~still_open
    closed_index = EventIndex(accounts[done], closed[done])
    hours = (closed[done] - opened[done]) / HOUR_NS
    rows, items = closed_index.pairs(queries, 90 * DAY_NS)
    medians = pd.Series(hours[items]).groupby(rows).median()
    out["median_resolution_hours_90d"] = medians.reindex(range(len(spine))).to_numpy()
    csat = tickets["csat"].to_numpy(dtype=np.float64, na_value=np.nan)[done]
    rated = ~np.isnan(csat)
    rated_sum = closed_index.total(np.where(rated, csat, 0.0), queries, 180 * DAY_NS)
    rated_count = closed_index.total(rated, queries, 180 * DAY_NS)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ticket_csat_mean_180d"] = np.where(rated_count > 0, rated_sum / rated_count,
                                                np.nan)
    return pd.DataFrame(out)


def surge(month: np.ndarray, year: np.ndarray) -> np.ndarray:
    """Tickets per day in the last 30 days over tickets per day in the last year: an
    incident is a surge against the account's own baseline, which a busy account's
    ordinary volume is not. Missing without a ticket in the year."""
    month = np.asarray(month, np.float64)
    year = np.asarray(year, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(year > 0, (month / 30) / (year / YEAR_DAYS), np.nan)


def count_open_where(spine: Spine, tickets: pd.DataFrame, mask: np.ndarray) -> np.ndarray:
    """Tickets selected by `mask` open at each spine row's as_of."""
    accounts = spine.encode(tickets["account_id"])
    mask = mask & (accounts >= 0)
    return count_open(spine.queries("ns"), accounts[mask],
                      timestamps_ns(tickets["opened_at"])[mask],
                      timestamps_ns(tickets["closed_at"])[mask],
                      tickets["closed_at"].isna().to_numpy()[mask])


def _oldest_open_days(queries: Queries, accounts: np.ndarray, opened: np.ndarray,
                      closed: np.ndarray, still_open: np.ndarray) -> np.ndarray:
    """Days since the oldest open ticket was opened; NaN with nothing open."""
    rows, items = open_pairs(queries, accounts, opened, closed, still_open)
    first_opened = pd.Series(opened[items], dtype=np.int64).groupby(rows).min()
    first = first_opened.reindex(range(len(queries)), fill_value=0).to_numpy(np.int64)
    has_open = np.zeros(len(queries), dtype=bool)
    has_open[first_opened.index.to_numpy()] = True
    return np.where(has_open, (queries.moments - first) / DAY_NS, np.nan)
