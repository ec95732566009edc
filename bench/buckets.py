"""Benchmark account buckets: a training set built bucket by bucket, against one pass.

A simulated base of `--accounts` accounts (three years, Parquet) goes through the whole
job, each step a `churnlens` command in a new process: built into a training set from
the source in one pass (unless `--no-one-pass`), partitioned into B buckets, built from
the buckets in turn and on a local Dask cluster (`--cluster local:2`), trained, and
scored from the buckets in turn and on the cluster. Printed per step: seconds and the
largest peak RSS of the process and the processes it waited for (`os.wait4`; a Dask
worker is its own process), and whether the training sets and the two runs are equal.

    .venv/bin/python bench/buckets.py [--accounts 10000] [--buckets 16] [--no-one-pass]

Targets (issue 20): memory set by one bucket, not by the base; each process under 8 GiB;
the LocalCluster(2) build within 1.3x of the buckets in turn.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from harness.steps import run_step


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--buckets", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one-pass", action=argparse.BooleanOptionalAction, default=True,
                        help="Also build from the source in one pass (memory grows with "
                             "the base: about 11.6 GiB at 10,000 accounts).")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="churnlens-bench-buckets-") as tmp:
        root = Path(tmp)
        began = time.perf_counter()
        # Every step is a new process and this one stays small: a child's peak RSS
        # (wait4) starts from this process's size when it is forked.
        run_step("simulate", "simulate", "--accounts", str(args.accounts), "--seed",
                 str(args.seed), "--start", "2023-01-01", "--end", "2025-12-31", "--out",
                 root / "sources", home=root)
        rows = pq.ParquetFile(root / "sources" / "usage_events.parquet").metadata.num_rows
        print(f"{args.accounts:,} accounts, {rows:,} usage rows simulated in "
              f"{time.perf_counter() - began:.0f} s")
        if args.one_pass:
            run_step("build, one pass", "build", "--data", root / "sources",
                     "--out", root / "whole.parquet", home=root)
        run_step(f"partition --buckets {args.buckets}", "partition", "--data",
                 root / "sources", "--out", root / "parts", "--buckets", str(args.buckets),
                 home=root)
        loop, _ = run_step(f"build, {args.buckets} buckets in turn", "build", "--data",
                           root / "parts", "--out", root / "bucketed.parquet", home=root)
        dask, _ = run_step("build, --cluster local:2", "build", "--data", root / "parts",
                           "--cluster", "local:2", "--out", root / "dask.parquet", home=root)
        print(f"LocalCluster(2) build / buckets in turn: {dask / loop:.2f}x")
        run_step("train", "train", "--training-set", root / "bucketed.parquet", home=root)
        run_step("score, buckets in turn", "score", "--data", root / "parts", "--no-monitor",
                 "--no-alerts", home=root)
        run_step("score, --cluster local:2", "score", "--data", root / "parts", "--cluster",
                 "local:2", "--no-monitor", "--no-alerts", home=root)
        print(f"the two runs equal: {_runs_equal(root / 'scores.db')}")
        bucketed = pd.read_parquet(root / "bucketed.parquet")
        for other in ("whole", "dask") if args.one_pass else ("dask",):
            frame = pd.read_parquet(root / f"{other}.parquet")
            differ = [c for c in frame.columns if not frame[c].equals(bucketed[c])]
            print(f"training sets {other} and bucketed equal: {not differ} "
                  f"({len(frame):,} rows)"
                  + (f"; columns that differ: {', '.join(differ)}" if differ else ""))


def _runs_equal(database: Path) -> bool:
    """Whether the store's two runs hold the same scores, reasons and evidence."""
    with sqlite3.connect(database) as conn:
        first, second = [r for (r,) in conn.execute("SELECT id FROM scoring_runs ORDER BY id")]

        def rows(table: str, run: int) -> list[tuple[object, ...]]:
            return [row[1:] for row in conn.execute(
                f"SELECT * FROM {table} WHERE run_id = ? ORDER BY account_id", (run,))]
        return all(rows(t, first) == rows(t, second) and rows(t, first)
                   for t in ("scores", "score_reasons", "score_evidence"))


if __name__ == "__main__":
    main()
