"""Benchmark the simulator: wall and CPU time, rows per table, rows/s and peak RSS.

The truth tables (`_truth/`, including the risk at each snapshot date) are counted
separately from the source rows; rows/s is over the source rows, as before.

.venv/bin/python bench/simulate.py --accounts 1000 --years 3 --seed 0
.venv/bin/python bench/simulate.py --accounts 10000 --start 2023-01-01 --end 2025-12-31
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from features.simulator import SimulationConfig, simulate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2023, 1, 1))
    parser.add_argument("--end", type=dt.date.fromisoformat, default=None)
    parser.add_argument("--years", type=int, default=3, help="used when --end is not given")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--out", type=Path, default=None, help="default: a temporary directory")
    args = parser.parse_args(argv)
    end = args.end or dt.date(args.start.year + args.years, args.start.month, args.start.day)
    if args.end is None:
        end -= dt.timedelta(days=1)
    config = SimulationConfig(n_accounts=args.accounts, start=args.start, end=end, seed=args.seed)

    with tempfile.TemporaryDirectory(prefix="churnlens-bench-") as tmp:
        out = args.out or Path(tmp)
        cpu = time.process_time()
        summary = simulate(config, out, args.format)
        cpu = time.process_time() - cpu
        truth_rows = {name: pq.ParquetFile(path).metadata.num_rows
                      for name, path in summary.truth_paths.items()}
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    total = summary.total_rows
    print(f"accounts={args.accounts} start={config.start} end={config.end} seed={config.seed}")
    for name, rows in summary.rows.items():
        print(f"  {name:<14} {rows:>12,d} rows")
    print(f"total rows     {total:>12,d}")
    for name, rows in truth_rows.items():
        print(f"  _truth/{name:<12} {rows:>8,d} rows")
    print(f"elapsed        {summary.elapsed_seconds:>12.1f} s")
    print(f"CPU            {cpu:>12.1f} s")
    print(f"throughput     {total / summary.elapsed_seconds:>12,.0f} rows/s")
    print(f"peak RSS       {peak_kib / 1024:>12,.0f} MiB")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
