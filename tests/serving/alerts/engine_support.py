"""Runs for the alert engine's tests: a few accounts with chosen scores and facts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from serving.alerts.evaluate import AccountRun, RunView
from serving.alerts.rules import AlertConfig, parse

FRESH = {"usage_events": None, "tickets": None}


def account(account_id: str, probability: float, **facts: Any) -> AccountRun:
    band = "high" if probability >= 0.30 else "medium" if probability >= 0.15 else "low"
    return AccountRun(account_id, account_id.upper(), "ana", probability, band,
                      dt.date(2026, 12, 31), {"logins_28d": probability}, facts)


def run(run_id: int, as_of: dt.date, *accounts: AccountRun, version: str = "7",
        last_records: dict[str, str | None] | None = None) -> RunView:
    fresh = {"usage_events": (as_of - dt.timedelta(days=1)).isoformat()}
    return RunView(run_id, as_of, version, {a.account_id: a for a in accounts},
                   fresh if last_records is None else last_records)


def rules(text: str) -> AlertConfig:
    return parse("rules:\n" + text, "test rules")


HIGH = rules("""
  - name: high
    title: Risk entered the high band
    when: {band: {at_least: high}}
    severity: critical
    cooldown_days: 60
    resolve_after_runs: 2
  - name: detractor
    title: A detractor
    when: {nps: {at_most: 6}}
    cooldown_days: 1
    resolve_after_runs: 1
""")


def month(n: int) -> dt.date:
    return dt.date(2025 + (n - 1) // 12, (n - 1) % 12 + 1, 1)
