"""Benchmark early warnings: how good the default rules are, and how fast they run.

1. Precision (`--part backtest`). The demo's base (`--accounts` accounts, seed `--seed`,
   2023-01-01 to `--end`) and a model trained on the training set as it was known at
   `--train-at` (`training.splits.as_known_at`), so no run it scores was in its training
   labels. It scores `--runs` monthly runs from then on, each evaluated with the shipped
   rules as `churnlens score` does, and the backtest table is printed as `churnlens alerts
   backtest` prints it: per rule, alerts, accounts, the share of resolved terms that
   churned against the base rate (lift), median lead time, alerts per CSM per week.
2. Evaluation time (`--part evaluate`). A base of `--timing-accounts` accounts (about 69%
   active at its end: 14,500 give runs of 10,000) scored by the same model at two monthly
   dates; the seconds `AlertBook.evaluate_run` takes on each run (reading it, and the run
   before, from the store, evaluating and storing the alerts and their outbox rows).
3. Delivery (`--part deliver`). `--deliveries` alerts queued for one endpoint, sent by
   `deliver_due` to a local receiver on 127.0.0.1 that verifies every signature with the
   `standardwebhooks` package and answers 204; the seconds until all are delivered.

    .venv/bin/python bench/alerts.py [--part all|backtest|evaluate|deliver]

Targets (issue 17): evaluating the default rules after a 10,000-account run adds under
2 s; 1,000 alerts delivered to a local receiver in under 10 s; the default rules' alerts
at least 2x the base churn rate, with the lead time reported.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from features.point_in_time.spec import TrainingSetSpec
from features.point_in_time.spine import labels_at
from features.point_in_time.training_set import build_training_set
from features.settings import get_settings
from features.simulator import SimulationConfig, simulate
from features.sources.loading import Sources, load_sources
from serving.alerts.backtest import ANY_RULE, precision, replay, table_lines
from serving.alerts.book import AlertBook
from serving.alerts.delivery import deliver_due
from serving.alerts.rules import AlertConfig, default_text, parse
from serving.batch import run_batch
from serving.risk import Bands, Reason, RiskScore
from serving.store.models import AccountInfo, StoredScore
from serving.store.score_store import ScoreStore
from training.config import load_config
from training.model import ChurnRiskModel
from training.pipeline import train_and_evaluate
from training.splits import as_known_at

log = logging.getLogger("bench.alerts")
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def monthly(start: dt.date, runs: int) -> list[dt.date]:
    return [(pd.Timestamp(start) + pd.DateOffset(months=k)).date() for k in range(runs)]


def base(root: Path, accounts: int, end: dt.date, seed: int) -> Sources:
    simulate(SimulationConfig(n_accounts=accounts, start=dt.date(2023, 1, 1), end=end,
                              seed=seed), root)
    return load_sources(root)


def shipped_rules() -> AlertConfig:
    return parse(default_text(), "the shipped alert rules")


def trained(sources: Sources, train_at: dt.date) -> ChurnRiskModel:
    frame = build_training_set(sources, TrainingSetSpec())
    return train_and_evaluate(as_known_at(frame, pd.Timestamp(train_at, tz="UTC")),
                              load_config()).model


def backtest(args: argparse.Namespace, root: Path) -> tuple[Sources, ChurnRiskModel]:
    """Score monthly runs out of time, evaluate each, and print the backtest table."""
    began = time.perf_counter()
    end, train_at = dt.date.fromisoformat(args.end), dt.date.fromisoformat(args.train_at)
    sources = base(root / "demo", args.accounts, end, args.seed)
    model = trained(sources, train_at)
    store = ScoreStore(f"sqlite:///{root / 'demo.db'}")
    rules, book = shipped_rules(), AlertBook(store)
    for day in monthly(train_at, args.runs):
        run_id = run_batch(sources, model, "1", store, day, Bands()).run_id
        book.evaluate_run(rules, run_id)
    runs = sorted(store.runs(limit=args.runs), key=lambda r: (r.as_of, r.id))
    views = [book.run_view(run) for run in runs]
    store.dispose()

    def outcomes(as_of: dt.date, accounts: pd.Series) -> pd.Series:
        return labels_at(sources.subscriptions, accounts, as_of,
                         sources.outcomes_known_through, get_settings().grace_days)

    rows, base_rate = precision(rules, views, replay(rules, views), outcomes)
    print(f"\nBacktest: {args.accounts:,} accounts (seed {args.seed}, data to {end}), model "
          f"trained on labels known at {train_at}, {args.runs} monthly runs from then "
          f"({time.perf_counter() - began:.0f} s)")
    for line in table_lines(rows, base_rate, views):
        print(line)
    every = next(r for r in rows if r.rule == ANY_RULE)
    print(f"all default rules: lift {every.lift or 0:.2f}x (target >= 2x), median lead "
          f"{every.median_lead_days} days")
    return sources, model


def evaluate_timing(args: argparse.Namespace, root: Path, model: ChurnRiskModel) -> None:
    """Seconds to evaluate the shipped rules on runs of about `--timing-accounts` x 0.69."""
    began = time.perf_counter()
    end = dt.date.fromisoformat(args.end)
    big = base(root / "big", args.timing_accounts, end, args.seed)
    print(f"\n{args.timing_accounts:,} accounts simulated and loaded in "
          f"{time.perf_counter() - began:.0f} s")
    store = ScoreStore(f"sqlite:///{root / 'big.db'}")
    rules, book = shipped_rules(), AlertBook(store)
    last = (pd.Timestamp(end) + pd.Timedelta(days=1)).date().replace(day=1)
    for day in monthly((pd.Timestamp(last) - pd.DateOffset(months=1)).date(), 2):
        scored = time.perf_counter()
        result = run_batch(big, model, "1", store, day, Bands())
        scoring = time.perf_counter() - scored
        timed = time.perf_counter()
        _, summary = book.evaluate_run(rules, result.run_id)
        seconds = time.perf_counter() - timed
        print(f"run {result.run_id} as of {day}: {result.accounts:,} accounts scored and "
              f"stored in {scoring:.1f} s; alerts evaluated in {seconds:.2f} s "
              f"(target < 2 s): {summary}")
    store.dispose()


@contextmanager
def receiver() -> Iterator[tuple[str, dict[str, int]]]:
    """A webhook receiver on 127.0.0.1 that verifies each request and answers 204."""
    verifier = Webhook(SECRET)
    counts = {"verified": 0, "refused": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            try:
                verifier.verify(body, {k.lower(): v for k, v in self.headers.items()})
                key = "verified"
            except WebhookVerificationError:
                key = "refused"
            with lock:
                counts[key] += 1
            self.send_response(204 if key == "verified" else 400)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", counts
    finally:
        server.shutdown()
        server.server_close()


def delivery_timing(args: argparse.Namespace, root: Path) -> None:
    """Queue `--deliveries` alerts for one endpoint and time sending them all."""
    store = ScoreStore(f"sqlite:///{root / 'deliver.db'}")
    as_of = dt.date(2026, 1, 1)
    rows = [StoredScore(
        RiskScore(f"A{i:05d}", as_of, 0.5, "high", "churnlens", "1",
                  (Reason("logins_28d", "usage", 3.0, 0.5, "few logins"),), {"usage": 0.5}),
        AccountInfo(f"A{i:05d}", f"Account {i}", "smb", f"csm{i % 40}", 10_000.0,
                    as_of + dt.timedelta(days=60))) for i in range(args.deliveries)]
    run_id = store.write_run("1", as_of, rows, facts={r.score.account_id: {} for r in rows},
                             last_records={})
    with receiver() as (url, counts):
        rules = parse(default_text().replace("\nendpoints: []\n", f"""
endpoints:
  - name: crm
    url: {url}
    secret: {SECRET}
    rules: [entered_high_band]
"""), "bench rules")
        _, summary = AlertBook(store).evaluate_run(rules, run_id)
        began = time.perf_counter()
        delivered = 0
        while delivered < summary["deliveries"]:
            tally = deliver_due(store, rules, limit=args.deliveries)
            delivered += tally.delivered
            if tally.delivered + tally.retried + tally.dead == 0:
                break
        seconds = time.perf_counter() - began
    store.dispose()
    print(f"\n{summary['deliveries']:,} deliveries queued; {delivered:,} delivered in "
          f"{seconds:.2f} s (target < 10 s), {counts['verified']:,} verified by "
          f"standardwebhooks, {counts['refused']} refused")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--end", default="2025-12-31")
    parser.add_argument("--train-at", default="2024-07-01")
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--timing-accounts", type=int, default=14_500)
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--part", choices=("all", "backtest", "evaluate", "deliver"),
                        default="all")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="churnlens-bench-alerts-") as tmp:
        root = Path(tmp)
        if args.part in ("all", "backtest", "evaluate"):
            _, model = backtest(args, root) if args.part != "evaluate" else (
                None, trained(base(root / "demo", args.accounts,
                                   dt.date.fromisoformat(args.end), args.seed),
                              dt.date.fromisoformat(args.train_at)))
            if args.part in ("all", "evaluate"):
                evaluate_timing(args, root, model)
        if args.part in ("all", "deliver"):
            delivery_timing(args, root)


if __name__ == "__main__":
    main()
