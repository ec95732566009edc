"""Benchmark the Alerts inbox's track record as daily runs pile up in the score store.

Every run stores its quarter's renewals with their outcomes as known at its as_of, so a
year of daily runs holds each renewal many times. The inbox shows, per rule, how the
alerts' renewals turned out (`serving.alerts.track_record`). This writes `--runs` daily
runs through `ScoreStore.write_run`, each with `--renewals` renewals of its quarter
(outcomes known 30 days after the renewal date, one in seven churned) spread over 40
CSMs, and times the track record as an admin and as one CSM's book sees it: the first
page view after the last run, then the next one.

    .venv/bin/python bench/inbox.py [--runs 365] [--renewals 2500]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from features.point_in_time.terms import quarter_of
from serving.alerts.track_record import track_record
from serving.risk import Bands, Reason, RiskScore
from serving.store.models import AccountInfo, RenewalDue, StoredScore
from serving.store.score_store import ScoreStore

log = logging.getLogger("bench.inbox")
START = dt.date(2025, 1, 1)
CSMS = 40


def renewals(as_of: dt.date, count: int) -> list[RenewalDue]:
    """The run's quarter's renewals (`quarter_of`, as runs store them): one account per
    slot, outcomes known 30 days after the renewal date."""
    first = quarter_of(pd.Timestamp(as_of))[0].date()
    out = []
    for i in range(count):
        due = first + dt.timedelta(days=i % 90)
        outcome = ("open" if due > as_of - dt.timedelta(days=30)
                   else "churned" if (i // CSMS) % 7 == 0 else "renewed")
        account = AccountInfo(f"A{first:%y%m}-{i:05d}", f"Account {i}", "smb",
                              f"csm{i % CSMS:02d}", 10_000.0, due)
        out.append(RenewalDue(account, f"S{first:%y%m}-{i:05d}", outcome))
    return out


def one_score(as_of: dt.date) -> list[StoredScore]:
    risk = RiskScore("A0", as_of, 0.1, Bands().band(0.1), "churnlens", "1",
                     (Reason("logins_28d", "usage", 3.0, 0.1, "few logins"),), {"usage": 0.1})
    return [StoredScore(risk, AccountInfo("A0", "A0", "smb", "csm00", 1.0, None))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=365, help="daily runs to store")
    parser.add_argument("--renewals", type=int, default=2500,
                        help="renewals of its quarter each run stores")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("serving.store").setLevel(logging.WARNING)  # one line per run
    with tempfile.TemporaryDirectory() as scratch:
        store = ScoreStore(f"sqlite:///{Path(scratch) / 'scores.db'}")
        started = time.perf_counter()
        for k in range(args.runs):
            as_of = START + dt.timedelta(days=k)
            store.write_run("1", as_of, one_score(as_of), renewals=renewals(as_of, args.renewals))
        log.info("stored %d runs x %d renewals in %.0f s", args.runs, args.renewals,
                 time.perf_counter() - started)
        for who, scope in (("admin", None), ("one CSM's book", frozenset({"csm01"}))):
            for view in ("first view", "next view"):
                began = time.perf_counter()
                _, base = track_record(store, scope)
                print(f"track record, {who}, {view}: {time.perf_counter() - began:.3f} s "
                      f"(base churn rate {base:.3f})" if base is not None else "no renewals")
        store.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
