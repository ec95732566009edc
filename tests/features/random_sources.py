"""Small random customer bases for oracle and leakage tests, built from a seed.

Timestamps are drawn on a coarse grid (whole days, hours and a few exact midnights) so
that records land exactly on snapshot dates and share timestamps with each other: the
cases where an off-by-one or a row-order dependence would show.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from features.sources.loading import Sources, load_sources

DATA_END = pd.Timestamp("2024-12-31", tz="UTC")
NOTE_TEXTS = ("Our champion has left the company.", "CHAMPION LEFT last week", "Big outage today",
              "Onboarding stalled again", "Says the product no longer fits", "QBR went well",
              "Quiet month", None)
FIRST = pd.Timestamp("2022-10-01", tz="UTC")
EVENT_TYPES = ("login", "session_minutes", "report_created", "export", "api_call",
               "Weird Type")
AS_OF = [*pd.date_range("2023-01-01", "2024-12-01", freq="MS", tz="UTC"),
         pd.Timestamp("2023-03-17", tz="UTC"), pd.Timestamp("2024-07-29", tz="UTC")]


def _moments(rng: np.random.Generator, n: int, start: pd.Timestamp = FIRST,
             end: pd.Timestamp = DATA_END) -> pd.Series:
    """Random moments in [start, end]; a third at midnight, many on shared hours."""
    days = rng.integers(0, (end - start).days + 1, n)
    hours = np.where(rng.random(n) < 0.35, 0, rng.integers(0, 24, n))
    stamps = start + pd.to_timedelta(days, unit="D") + pd.to_timedelta(hours, unit="h")
    return pd.Series(stamps).clip(upper=end)


def _subscriptions(rng: np.random.Generator, accounts: list[str]) -> pd.DataFrame:
    rows = []
    for account in accounts:
        start = FIRST + pd.Timedelta(days=int(rng.integers(0, 200)))
        for term in range(6):
            length = int(rng.choice([30, 91, 365]))
            end = start + pd.Timedelta(days=length)
            rows.append({
                "subscription_id": f"{account}-S{term}", "account_id": account,
                "start_date": start, "end_date": end,
                "arr": float(rng.choice([0.0, 1200.0, 5000.0, 24000.0])),
                "seats": None if rng.random() < 0.15 else int(rng.integers(1, 12)),
                "plan": str(rng.choice(["starter", "growth"])),
                "auto_renew": bool(rng.random() < 0.5),
            })
            gap = int(rng.choice([-20, 0, 0, 10, 45, 400]))
            start = end + pd.Timedelta(days=gap)
            if start > DATA_END - pd.Timedelta(days=20):
                break
    return pd.DataFrame(rows)


def random_tables(seed: int, n_accounts: int = 6, n_events: int = 400) -> dict[
        str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    accounts = [f"A{i}" for i in range(n_accounts)]
    pick = lambda n: rng.choice(accounts, n)  # noqa: E731
    kinds = rng.choice(EVENT_TYPES, n_events, p=[0.35, 0.15, 0.15, 0.1, 0.15, 0.1])
    quantity = rng.choice([0.0, 1.0, 2.0, 3.0, 2.5], n_events)
    n_tickets, n_surveys, n_notes = 45, 45, 30
    opened = _moments(rng, n_tickets)
    duration = pd.to_timedelta(rng.choice([0, 5, 30, 200, 2000, 4000], n_tickets), unit="h")
    closed = (opened + duration).where(rng.random(n_tickets) < 0.8)
    closed = closed.where(closed <= DATA_END)
    survey_kind = rng.choice(["nps", "csat", "ces"], n_surveys, p=[0.6, 0.3, 0.1])
    score = np.where(survey_kind == "nps", rng.integers(0, 11, n_surveys),
                     np.where(survey_kind == "csat", rng.integers(1, 6, n_surveys),
                              rng.integers(1, 8, n_surveys)))
    return {
        "accounts": pd.DataFrame({
            "account_id": accounts,
            "created_at": [FIRST] * n_accounts,
            "segment": rng.choice(["smb", "enterprise"], n_accounts),
            "industry": rng.choice(["retail", "finance", None], n_accounts),
            "region": rng.choice(["NA", "EMEA"], n_accounts),
            "csm_owner": rng.choice(["Ana", "Ben"], n_accounts),
        }),
        "subscriptions": _subscriptions(rng, accounts),
        "usage_events": pd.DataFrame({
            "account_id": pick(n_events),
            "timestamp": _moments(rng, n_events),
            "event_type": kinds,
            "user_id": np.where(rng.random(n_events) < 0.1, None,
                                rng.choice(["u1", "u2", "u3", "u4"], n_events)),
            "quantity": quantity,
        }),
        "tickets": pd.DataFrame({
            "ticket_id": [f"T{i}" for i in range(n_tickets)],
            "account_id": pick(n_tickets),
            "opened_at": opened,
            "closed_at": closed,
            "priority": rng.choice(["low", "normal", "high", "urgent", None], n_tickets),
            "csat": np.where(rng.random(n_tickets) < 0.5, np.nan,
                             rng.integers(1, 6, n_tickets)),
            "escalated": rng.random(n_tickets) < 0.2,
        }),
        "surveys": pd.DataFrame({
            "account_id": pick(n_surveys),
            "responded_at": _moments(rng, n_surveys).dt.floor("D"),
            "kind": survey_kind,
            "score": score.astype(float),
        }),
        "csm_notes": pd.DataFrame({
            "account_id": pick(n_notes),
            "noted_at": _moments(rng, n_notes).dt.floor("D"),
            "sentiment": rng.choice(["red", "yellow", "green"], n_notes),
            # event phrases in several spellings, plain notes and missing text
            "text": rng.choice(np.array(NOTE_TEXTS, dtype=object), n_notes),
        }),
    }


def load_tables(directory: Path, tables: dict[str, pd.DataFrame]) -> Sources:
    """Write the tables as Parquet and load them through the real, validating loader."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_parquet(directory / f"{name}.parquet", index=False)
    (directory / "dataset.json").write_text(json.dumps({"data_end": DATA_END.date().isoformat()}))
    return load_sources(directory)
