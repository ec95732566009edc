"""Monthly record counts per source table, counted by hand."""

from __future__ import annotations

import pandas as pd

from features.analysis.volumes import monthly_volumes
from features.sources.loading import load_sources


def test_monthly_volumes_of_the_tiny_base(tiny_dir):
    volumes = monthly_volumes(load_sources(tiny_dir))
    # tiny_sources: usage on 2023-01-05 (2), 2023-03-04, 2023-07-01, 2024-02-01T23:59:59+02
    # (21:59 UTC, still February); subscriptions start 2023-01, 2024-01, 2023-03, 2023-06.
    assert volumes.at[pd.Timestamp("2023-01-01"), "usage_events"] == 2
    assert volumes.at[pd.Timestamp("2024-02-01"), "usage_events"] == 1
    assert volumes["usage_events"].sum() == 5
    assert volumes.loc[pd.Timestamp("2023-01-01"), "subscriptions"] == 1
    assert volumes["subscriptions"].sum() == 4
    assert volumes.at[pd.Timestamp("2023-05-01"), "tickets"] == 1
    assert volumes.at[pd.Timestamp("2023-04-01"), "accounts"] == 0  # a gap month is 0
    assert volumes.index.is_monotonic_increasing
    assert set(volumes.columns) == {"accounts", "subscriptions", "usage_events", "tickets",
                                    "surveys", "csm_notes"}


def test_months_before_since_are_dropped(tiny_dir):
    volumes = monthly_volumes(load_sources(tiny_dir),
                              since=pd.Timestamp("2023-06-15", tz="UTC"))
    assert volumes.index.min() == pd.Timestamp("2023-06-01")
