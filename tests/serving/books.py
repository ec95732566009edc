"""Small books of stored scores for store and ranked-page tests (one reason each), and a
stored run read back for comparing two runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from features.sources.database import engine_url
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


def stored_run(url: str, run_id: int, tables: Sequence[str]
               ) -> dict[str, list[tuple[Any, ...]]]:
    """Every row `tables` hold for the run, without its id, in a fixed order: two runs
    are the same run when these are equal."""
    engine = sa.create_engine(engine_url(url))
    try:
        with engine.connect() as conn:
            return {table: sorted(tuple(v for k, v in row._mapping.items() if k != "run_id")
                                  for row in conn.execute(sa.text(
                                      f"SELECT * FROM {table} WHERE run_id = :run"),
                                      {"run": run_id}))
                    for table in tables}
    finally:
        engine.dispose()
