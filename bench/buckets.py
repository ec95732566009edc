"""Benchmark account buckets: a training set built bucket by bucket, against one pass.

A simulated base of `--accounts` accounts (three years, Parquet) is built into a training
set twice, each time by `churnlens build` in a new process: once from the source
directory in one pass, once from `churnlens partition --buckets B` of it. Printed per
step: seconds and the process's peak RSS (`os.wait4`), and whether the two training sets
are equal row for row. `churnlens partition` itself reads the source whole, once.

    .venv/bin/python bench/buckets.py [--accounts 10000] [--buckets 16]

Target (issue 20): memory set by one bucket, not by the base.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from features.simulator import SimulationConfig, simulate

CHURNLENS = str(Path(sys.executable).with_name("churnlens"))


def run(step: str, *args: str | Path, home: Path) -> None:
    """One `churnlens` command in a new process: its seconds and peak RSS."""
    began = time.perf_counter()
    process = subprocess.Popen([CHURNLENS, "-q", *map(str, args)],
                               env={**os.environ, "CHURNLENS_HOME": str(home)},
                               stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{step} failed")
    print(f"{step:<40} {seconds:>8.1f} s {usage.ru_maxrss / 2**20:>8.2f} GiB peak RSS",
          flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--buckets", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="churnlens-bench-buckets-") as tmp:
        root = Path(tmp)
        began = time.perf_counter()
        simulate(SimulationConfig(n_accounts=args.accounts, start=dt.date(2023, 1, 1),
                                  end=dt.date(2025, 12, 31), seed=args.seed),
                 root / "sources")
        rows = len(pd.read_parquet(root / "sources" / "usage_events.parquet",
                                   columns=["account_id"]))
        print(f"{args.accounts:,} accounts, {rows:,} usage rows simulated in "
              f"{time.perf_counter() - began:.0f} s")
        run("build, one pass", "build", "--data", root / "sources",
            "--out", root / "whole.parquet", home=root)
        run(f"partition --buckets {args.buckets}", "partition", "--data", root / "sources",
            "--out", root / "parts", "--buckets", str(args.buckets), home=root)
        run(f"build, {args.buckets} buckets in turn", "build", "--data", root / "parts",
            "--out", root / "bucketed.parquet", home=root)
        whole = pd.read_parquet(root / "whole.parquet")
        bucketed = pd.read_parquet(root / "bucketed.parquet")
        differ = [c for c in whole.columns if not whole[c].equals(bucketed[c])]
        print(f"training sets equal: {not differ} ({len(whole):,} rows)"
              + (f"; columns that differ: {', '.join(differ)}" if differ else ""))


if __name__ == "__main__":
    main()
