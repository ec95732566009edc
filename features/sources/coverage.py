"""Where each table's records end, and so how far term outcomes are known.

Exports are taken on different days: a billing system's subscriptions may stop a month
before the product-analytics usage. A term that ends after the subscriptions stop has no
visible successor, so a data end taken from the latest record of any table counts every
such renewal as churn. So each table's last record is kept, term outcomes are known
through the subscriptions' last record unless the data end is stated, and a warning
names the dates and what follows whenever the subscriptions and the activity tables end
more than `APART_DAYS` apart.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from features.sources.contract import TABLES

APART_DAYS = 7
SUBSCRIPTIONS = "subscriptions"
ACTIVITY = ("usage_events", "tickets", "surveys", "csm_notes")


def table_ends(frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.Timestamp]:
    """The day of each table's latest record (by its time column); tables without rows
    or without a time column are left out."""
    out = {}
    for name, frame in frames.items():
        column = TABLES[name].time_column
        if column and len(frame) and frame[column].notna().any():
            out[name] = pd.Timestamp(frame[column].max()).normalize()
    return out


def label_end(ends: Mapping[str, pd.Timestamp], data_end: pd.Timestamp,
              stated: bool) -> pd.Timestamp:
    """The last day term outcomes are known: the stated data end when there is one, else
    the subscriptions' last record (never after the data end)."""
    if stated or SUBSCRIPTIONS not in ends:
        return data_end
    return min(data_end, ends[SUBSCRIPTIONS])


def coverage_warning(ends: Mapping[str, pd.Timestamp], labels_through: pd.Timestamp,
                     stated: bool) -> str | None:
    """A warning when the subscriptions and the activity tables end more than
    `APART_DAYS` apart, saying what churnlens does about it; None otherwise."""
    activity = {name: ends[name] for name in ACTIVITY if name in ends}
    if SUBSCRIPTIONS not in ends or not activity:
        return None
    subscriptions = ends[SUBSCRIPTIONS]
    latest_name = max(activity, key=lambda name: activity[name])
    gap = (activity[latest_name] - subscriptions).days
    if abs(gap) <= APART_DAYS:
        return None
    dates = ", ".join(f"{name} {day.date()}" for name, day in sorted(ends.items()))
    head = f"The tables end on different days ({dates}): "
    if gap < 0:
        return head + (
            f"{latest_name}, the latest activity table, ends {-gap} days before the "
            f"subscriptions, so snapshots after {activity[latest_name].date()} see no "
            f"activity and look idle. Build and score up to that day (--end, --as-of), or "
            f"export the activity again.")
    if stated:
        return head + (
            f"the subscriptions end {gap} days before {latest_name}. Term outcomes are "
            f"taken as known through the stated data end, {labels_through.date()}: check "
            f"that the subscriptions are complete through it, or a renewal signed after "
            f"{subscriptions.date()} counts as churn.")
    return head + (
        f"the subscriptions end {gap} days before {latest_name}. Term outcomes are taken "
        f"as known through {labels_through.date()}, the subscriptions' last record: terms "
        f"ending later count as not yet resolved, never as churned. If the subscriptions "
        f"are complete, state the data end (--data-end, or data_end in dataset.json).")
