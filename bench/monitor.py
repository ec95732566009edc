"""Benchmark monitoring: quiet on a stationary base, quick to catch a product change, fast.

Two simulated bases of `--accounts` accounts from 2023-01-01 to `--end`, identical but
for a product change in the second (`churnlens simulate --drift-from`: from that day the
users of `--drift-share` of the accounts log in, spend minutes and use features at 40% of
before, their churn risk unchanged; the records before it are the same). On
each, a model is trained on the training set as it was known at `--train-at`
(`training.splits.as_known_at`) and scores `--runs` monthly runs from then on, each judged
as `churnlens score` judges it (drift against the model's reference profile, realised
performance as far as the base's outcomes go, verdict). Printed per run: as_of, verdict,
score PSI and spread, the drifted important features, realised ROC AUC and its status.

On each base a second model is then trained at `--retrain-at` and shadows the first on a
run at that date, so both are judged on the same accounts' outcomes: what retraining
restores under the change, beside what it adds without one.

Last, a model is trained and registered in a workspace whose sources are a base of
`--timing-accounts` accounts, scored once, and `churnlens monitor --run 1` is timed as a
user runs it, and judging the run in this process.

    .venv/bin/python bench/monitor.py [--accounts 2000] [--timing-accounts 10000]

Targets (issue 18): 0 "retrain" verdicts over 12 stationary runs; the change caught
("retrain") within 2 runs after it; judging a 10,000-account run in under 5 s.
tests/serving/monitoring/test_scenarios.py checks the same setting in `make test`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from features.point_in_time.artifacts import read_training_set, write_training_set
from features.point_in_time.spec import TrainingSetSpec
from features.point_in_time.training_set import build_training_set
from features.settings import get_settings, settings_with, use_settings
from features.simulator import SimulationConfig, simulate
from features.simulator.config import DriftConfig
from features.sources.loading import Sources, load_sources
from serving.batch import Shadow, run_batch
from serving.monitoring.monitor import RunJudgement, judge_runs
from serving.monitoring.verdict import RETRAIN
from serving.risk import Bands
from serving.store.score_store import ScoreStore
from training.config import TrainConfig, load_config
from training.model import ChurnRiskModel
from training.pipeline import train_and_evaluate
from training.registry import load_version
from training.run import run_training
from training.splits import as_known_at
from training.tracking import mlflow_client

log = logging.getLogger("bench.monitor")


def monthly(start: dt.date, runs: int) -> list[dt.date]:
    return [(pd.Timestamp(start) + pd.DateOffset(months=k)).date() for k in range(runs)]


def base(root: Path, accounts: int, end: dt.date, seed: int,
         drift: DriftConfig | None = None) -> Sources:
    config = SimulationConfig(n_accounts=accounts, start=dt.date(2023, 1, 1), end=end,
                              seed=seed, drift=drift or DriftConfig())
    simulate(config, root)
    return load_sources(root)


def trained_at(frame: pd.DataFrame, when: dt.date, config: TrainConfig) -> ChurnRiskModel:
    return train_and_evaluate(as_known_at(frame, pd.Timestamp(when, tz="UTC")), config).model


def replay(sources: Sources, model: ChurnRiskModel, dates: list[dt.date], store: ScoreStore
           ) -> list[RunJudgement]:
    """Score each date and judge the run as `churnlens score` does; oldest first."""
    out = []
    for day in dates:
        run_id = run_batch(sources, model, "1", store, day, Bands()).run_id
        run, _ = store.position(run_id)
        assert run is not None
        out += judge_runs(store, [run], sources, lambda _: model.profile, Bands())
    return out


def describe(judged: list[RunJudgement]) -> None:
    print(f"{'as_of':<10} {'verdict':<8} {'score PSI':>9} {'spread':>7}  {'ROC AUC':>7} "
          f"{'status':<11} drifted important features; first reason")
    for j in judged:
        drift = j.drift
        assert drift is not None
        auc = j.realised.metrics.get("roc_auc", math.nan)
        drifted = ", ".join(f"{f.name} {f.psi:.2f}" for f in drift.drifted(top=5)) or "-"
        first = j.verdict.reasons[0][:70] if j.verdict.reasons else ""
        print(f"{j.run.as_of!s:<10} {j.verdict.level:<8} {drift.score.psi:>9.3f} "
              f"{drift.score.spread:>7.3f}  {auc:>7.3f} {j.realised.status:<11} {drifted}; "
              f"{first}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--end", default="2026-06-30")
    parser.add_argument("--train-at", default="2024-10-01")
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--drift-from", default="2025-02-01")
    parser.add_argument("--drift-share", type=float, default=1.0)
    parser.add_argument("--retrain-at", default="2026-01-01")
    parser.add_argument("--seed", type=int, default=3)
    # about 69% of accounts are active at the base's end: 14,500 give a run of 10,000
    parser.add_argument("--timing-accounts", type=int, default=14_500)
    parser.add_argument("--part", choices=("all", "scenarios", "timing"), default="all")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    end, train_at = dt.date.fromisoformat(args.end), dt.date.fromisoformat(args.train_at)
    drift_from = dt.date.fromisoformat(args.drift_from)
    config = load_config()
    dates = monthly(train_at, args.runs)
    with tempfile.TemporaryDirectory(prefix="churnlens-bench-monitor-") as tmp:
        root = Path(tmp)
        if args.part in ("all", "scenarios"):
            scenarios(args, root, config, dates, train_at, drift_from, end)
        if args.part in ("all", "timing"):
            timing(args, root)


def scenarios(args: argparse.Namespace, root: Path, config: TrainConfig, dates: list[dt.date],
              train_at: dt.date, drift_from: dt.date, end: dt.date) -> None:
    """The stationary and the drifted base, and the retrain on the drifted one."""
    results = {}
    for name, drift in (("stationary", None),
                        ("drift", DriftConfig(from_date=drift_from, share=args.drift_share))):
        began = time.perf_counter()
        sources = base(root / name, args.accounts, end, args.seed, drift)
        frame = build_training_set(sources, TrainingSetSpec())
        model = trained_at(frame, train_at, config)
        store = ScoreStore(f"sqlite:///{root / name}.db")
        judged = replay(sources, model, dates, store)
        results[name] = (sources, frame, model, store, judged)
        print(f"\n{name} base: {args.accounts:,} accounts, model trained at {train_at}"
              + (f", product change from {drift_from} on {args.drift_share:.0%} of "
                 f"accounts" if drift else "") + f" ({time.perf_counter() - began:.0f} s)")
        describe(judged)
    retrains = sum(j.verdict.level == RETRAIN for j in results["stationary"][4])
    after = [j for j in results["drift"][4] if j.run.as_of > drift_from]
    caught = next((i + 1 for i, j in enumerate(after) if j.verdict.level == RETRAIN), None)
    print(f"\nstationary: {retrains} 'retrain' verdicts of {args.runs} runs")
    print(f"drift: first 'retrain' at run {caught} after the change"
          if caught else "drift: never 'retrain'")

    retrain_at = dt.date.fromisoformat(args.retrain_at)
    for name, (sources, frame, model, store, _) in results.items():
        fresh = trained_at(frame, retrain_at, config)
        run_id = run_batch(sources, model, "1", store, retrain_at, Bands(),
                           shadow=Shadow(fresh, "2")).run_id
        run, _ = store.position(run_id)
        assert run is not None
        [judged] = judge_runs(store, [run], sources, lambda _, m=model: m.profile, Bands())
        shadow = judged.shadow["2"]
        print(f"{name}: run at {retrain_at}, {judged.realised.resolved:,} of "
              f"{judged.realised.rows:,} outcomes known ({judged.realised.status}): ROC AUC "
              f"of the model trained at {train_at} {judged.realised.metrics['roc_auc']:.3f}, "
              f"retrained at {retrain_at} {shadow.metrics['roc_auc']:.3f}; churned "
              f"{judged.realised.observed_churn:.1%}, expected {judged.realised.expected_churn:.1%}"
              f" / {shadow.expected_churn:.1%}")
    return model


def timing(args: argparse.Namespace, root: Path) -> None:
    """`churnlens monitor --run 1` on a workspace whose run holds `--timing-accounts`
    accounts' scores, as a user runs it (a new process, best of three), and judging that
    run in this process."""
    home = root / "workspace"
    use_settings(settings_with(home=home))
    sources = base(root / "model-base", args.accounts, dt.date(2025, 12, 31), args.seed)
    spec = TrainingSetSpec()
    path = write_training_set(build_training_set(sources, spec), spec, sources,
                              workspace=home)
    frame, manifest = read_training_set(path)
    config = load_config()
    config = config.model_copy(update={
        "split": config.split.model_copy(update={"backtest_folds": 0})})
    run_training(frame, manifest, config, path)
    began = time.perf_counter()
    big = base(home / "sources", args.timing_accounts, dt.date(2025, 12, 31), args.seed)
    print(f"\n{args.timing_accounts:,} accounts simulated and loaded in "
          f"{time.perf_counter() - began:.0f} s")
    env = {**os.environ, "CHURNLENS_HOME": str(home)}
    command = [str(Path(sys.executable).with_name("churnlens")), "-q"]
    for flags in (["--no-monitor"], []):
        began = time.perf_counter()
        subprocess.run([*command, "score", *flags], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        print(f"churnlens score {' '.join(flags)}: {time.perf_counter() - began:.1f} s")
    store = ScoreStore(get_settings().score_store)
    run = store.latest_run()
    assert run is not None
    for flags in ([], ["--no-mlflow"]):
        seconds = []
        for _ in range(3):
            began = time.perf_counter()
            subprocess.run([*command, "monitor", "--run", str(run.id), *flags], env=env,
                           check=True, stdout=subprocess.DEVNULL)
            seconds.append(time.perf_counter() - began)
        print(f"churnlens monitor --run {run.id} {' '.join(flags)} of a run of {run.rows:,} "
              f"accounts: {min(seconds):.2f} s (best of 3; "
              f"{', '.join(f'{s:.2f}' for s in seconds)}), a new process")
    model, _ = load_version(mlflow_client())
    seconds = []
    for _ in range(3):
        began = time.perf_counter()
        judge_runs(store, [run], big, lambda _: model.profile, Bands())
        seconds.append(time.perf_counter() - began)
    print(f"judging it in this process (store read, drift, realised, verdict, stored): "
          f"{min(seconds):.2f} s (best of 3)")
    store.dispose()

if __name__ == "__main__":
    main()
