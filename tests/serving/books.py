"""Small books of stored scores for store and ranked-page tests: one reason each."""

from __future__ import annotations

import datetime as dt

from serving.risk import Bands, Reason, RiskScore
from serving.store.score_store import AccountInfo, StoredScore

JAN, FEB, MAR = dt.date(2025, 1, 1), dt.date(2025, 2, 1), dt.date(2025, 3, 1)


def book(as_of: dt.date, probabilities: dict[str, float]) -> list[StoredScore]:
    """One stored score per account id, with its probability and a fixed reason."""
    return [StoredScore(
        RiskScore(account_id, as_of, p, Bands().band(p), "churnlens", "7",
                  (Reason("logins_28d", "usage", 3.0, p, "few logins"),), {"usage": p}),
        AccountInfo(account_id, account_id.upper(), "smb", "ana", 1_000.0,
                    as_of + dt.timedelta(days=100)))
        for account_id, p in probabilities.items()]
