"""Tiny, hand-written source tables (as text, like a CSV export) and a writer for them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

DATA_END = "2024-12-31"


def tiny_tables() -> dict[str, pd.DataFrame]:
    """A valid customer base of three accounts, as text like a CSV export has it."""
    return {
        "accounts": pd.DataFrame({
            "account_id": ["A1", "A2", "A3"],
            "created_at": ["2023-01-01", "2023-02-15", "2023-06-01T09:30:00Z"],
            "name": ["Acme", "Globex", "Initech"],
            "segment": ["smb", "enterprise", "smb"],
            "industry": ["retail", "finance", "software"],
            "region": ["EMEA", "NA", "NA"],
            "csm_owner": ["Ana", "Ben", "Ana"],
        }),
        "subscriptions": pd.DataFrame({
            "subscription_id": ["S1", "S2", "S3", "S4"],
            "account_id": ["A1", "A1", "A2", "A3"],
            "start_date": ["2023-01-01", "2024-01-10", "2023-03-01", "2023-06-01"],
            "end_date": ["2024-01-01", "2025-01-10", "2024-03-01", "2024-06-01"],
            "arr": ["1200", "1500.5", "90000", "3000"],
            "seats": ["5", "6", "120", "10"],
            "plan": ["starter", "growth", "enterprise", "starter"],
            "auto_renew": ["false", "true", "no", "1"],
        }),
        "usage_events": pd.DataFrame({
            "account_id": ["A1", "A1", "A2", "A3", "A3"],
            "timestamp": ["2023-01-05T10:00:00Z", "2023-01-05", "2023-03-04", "2023-07-01",
                          "2024-02-01T23:59:59+02:00"],
            "event_type": ["login", "report_created", "login", "login", "session_minutes"],
            "user_id": ["u1", None, "u9", "u3", None],
            "quantity": ["2", "5", None, "1", "42.5"],
        }),
        "tickets": pd.DataFrame({
            "ticket_id": ["T1", "T2"],
            "account_id": ["A2", "A3"],
            "opened_at": ["2023-05-01T08:00:00Z", "2024-03-01"],
            "closed_at": ["2023-05-02T08:00:00Z", None],
            "priority": ["High", "urgent"],
            "category": ["billing", "bug"],
            "csat": ["4", None],
            "escalated": ["false", "true"],
            "first_response_minutes": ["30", "5"],
        }),
        "surveys": pd.DataFrame({
            "account_id": ["A1", "A2", "A3"],
            "responded_at": ["2023-06-01", "2023-07-01", "2024-01-15"],
            "kind": ["nps", "csat", "nps"],
            "score": ["9", "4", "3"],
            "comment": ["love it", None, "too slow"],
        }),
        "csm_notes": pd.DataFrame({
            "account_id": ["A1", "A3"],
            "noted_at": ["2023-09-01", "2024-02-01"],
            "sentiment": ["green", "red"],
            "text": ["happy", "champion left"],
        }),
    }


def write_tables(directory: Path, tables: dict[str, pd.DataFrame], fmt: str = "csv",
                 data_end: str | None = DATA_END) -> Path:
    """Write tables as `<name>.<fmt>` plus dataset.json; returns the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if fmt == "csv":
            frame.to_csv(directory / f"{name}.csv", index=False)
        else:
            frame.to_parquet(directory / f"{name}.parquet", index=False)
    if data_end is not None:
        (directory / "dataset.json").write_text(json.dumps({"data_end": data_end}))
    return directory


def write_sqlite(path: Path, tables: dict[str, pd.DataFrame] | None = None) -> str:
    """`tables` (else the tiny tables) in a new SQLite database at `path`; its URL."""
    import sqlalchemy as sa

    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for name, frame in (tiny_tables() if tables is None else tables).items():
            frame.to_sql(name, conn, index=False)
    engine.dispose()
    return url
