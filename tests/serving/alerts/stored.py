"""Scoring runs with alert facts in a real score store, for the alert store's tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from books import book

from serving.alerts.rules import AlertConfig, parse
from serving.store.score_store import ScoreStore


def write(store: ScoreStore, as_of: dt.date, probabilities: dict[str, float], *,
          version: str = "7", facts: dict[str, dict[str, Any]] | None = None,
          stale: bool = False, owners: dict[str, str] | None = None) -> int:
    """A run of `probabilities` by account (CSM "ana" unless `owners` names another)."""
    day = (as_of - dt.timedelta(days=40 if stale else 1)).isoformat()
    rows = [replace(row, account=replace(row.account, csm_owner=(owners or {}).get(
        row.account.account_id, row.account.csm_owner))) for row in book(as_of, probabilities)]
    return store.write_run(version, as_of, rows,
                           facts=facts or {a: {"nps": 9} for a in probabilities},
                           last_records={"usage_events": day, "tickets": day})


def config(url: str | None = None, *, secret: str = "", schedule: str = "[0, 0]",
           fmt: str = "standard", digest: str = "none") -> AlertConfig:
    return parse(config_text(url, secret=secret, schedule=schedule, fmt=fmt, digest=digest),
                 "test rules")


def config_text(url: str | None = None, *, secret: str = "", schedule: str = "[0, 0]",
                fmt: str = "standard", digest: str = "none") -> str:
    """Two rules (high, detractor) and, given a url, one endpoint `crm` taking them all."""
    endpoints = "" if url is None else (
        f"endpoints:\n  - name: crm\n    url: {url}\n    secret: {secret}\n"
        f"    format: {fmt}\n    digest: {digest}\n")
    return f"""\
rules:
  - name: high
    title: Risk entered the high band
    when: {{band: {{at_least: high}}}}
    severity: critical
    resolve_after_runs: 2
  - name: detractor
    title: A detractor
    when: {{nps: {{at_most: 6}}}}
{endpoints}delivery:
  retry_schedule: {schedule}
  jitter: 0
  timeout_seconds: 5
"""
