"""Scoring runs with alert facts in a real score store, for the alert store's tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from books import book

from serving.alerts.rules import AlertConfig, parse
from serving.store.score_store import ScoreStore


def write(store: ScoreStore, as_of: dt.date, probabilities: dict[str, float], *,
          version: str = "7", facts: dict[str, dict[str, Any]] | None = None,
          stale: bool = False) -> int:
    day = (as_of - dt.timedelta(days=40 if stale else 1)).isoformat()
    return store.write_run(version, as_of, book(as_of, probabilities),
                           facts=facts or {a: {"nps": 9} for a in probabilities},
                           last_records={"usage_events": day, "tickets": day})


def config(url: str | None = None, *, secret: str = "", schedule: str = "[0, 0]",
           fmt: str = "standard") -> AlertConfig:
    endpoints = "" if url is None else (
        f"endpoints:\n  - name: crm\n    url: {url}\n    secret: {secret}\n"
        f"    format: {fmt}\n")
    return parse(f"""\
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
""", "test rules")
