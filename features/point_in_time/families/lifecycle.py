"""The lifecycle stage at as_of, as one categorical feature.

Stages overlap, so the first match wins, most urgent first:

1. escalation — an urgent or escalated ticket is open, or the CSM's latest note is red;
2. onboarding — within the first 90 days of tenure;
3. renewal — the current term ends within 90 days (a monthly customer is always here
   unless one of the above applies: each month is a renewal decision);
4. adoption — everything else.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.point_in_time.catalog_entries import LIFECYCLE_STAGES
from features.point_in_time.families.sentiment import latest_sentiment
from features.point_in_time.families.support import count_open_where
from features.point_in_time.spine import Spine

ONBOARDING_DAYS = 90
RENEWAL_DAYS = 90


def compute(spine: Spine, contract: pd.DataFrame, tickets: pd.DataFrame | None,
            notes: pd.DataFrame | None) -> pd.DataFrame:
    """`contract` holds the contract family's tenure_days and days_to_renewal."""
    escalation = np.zeros(len(spine), dtype=bool)
    if tickets is not None:
        alarming = (tickets["priority"].eq("urgent").fillna(False).to_numpy(dtype=bool)
                    | tickets["escalated"].fillna(False).to_numpy(dtype=bool))
        escalation |= count_open_where(spine, tickets, alarming) > 0
    if notes is not None:
        escalation |= np.asarray(latest_sentiment(spine, notes) == "red", dtype=bool)
    stage = np.select(
        [escalation,
         contract["tenure_days"].to_numpy() < ONBOARDING_DAYS,
         contract["days_to_renewal"].to_numpy() <= RENEWAL_DAYS],
        ["escalation", "onboarding", "renewal"], "adoption")
    return pd.DataFrame({"lifecycle_stage": pd.Categorical(stage, categories=LIFECYCLE_STAGES)})
