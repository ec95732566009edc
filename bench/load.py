"""Benchmark loading sources: seconds, rows/s per table and peak RSS of `load_sources`.

.venv/bin/python bench/load.py --accounts 1000                  # simulate 3 years, then load
.venv/bin/python bench/load.py --data /tmp/loadbench/sim10k     # an existing source directory

`load_sources` reads, types and validates every table, exactly as `churnlens validate`
and `churnlens build` do. Per table, the seconds cover reading it and typing and checking
it on its own; the checks across tables (unknown accounts, dates after the data's end,
soft warnings) are timed apart. Peak RSS is the whole process's, so with `--accounts`
the simulator's own peak (about 0.5 GiB) is included; reuse a directory with `--data`
to see the loader alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path

from features.sources.loading import load_sources


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _simulate(accounts: int, years: int, seed: int, out: Path) -> None:
    from features.simulator import SimulationConfig, simulate

    start = dt.date(2023, 1, 1)
    end = dt.date(start.year + years, 1, 1) - dt.timedelta(days=1)
    began = time.perf_counter()
    simulate(SimulationConfig(n_accounts=accounts, start=start, end=end, seed=seed), out)
    print(f"simulated {accounts:,} accounts ({start} .. {end}, seed {seed}) into {out} in "
          f"{time.perf_counter() - began:.1f} s, peak RSS so far {_peak_mib():,.0f} MiB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None,
                        help="source directory (or database URL) to load; default: simulate")
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="churnlens-load-bench-") as tmp:
        data = args.data
        if data is None:
            data = Path(tmp) / "sources"
            _simulate(args.accounts, args.years, args.seed, data)
        timings: dict[str, float] = {}
        began = time.perf_counter()
        sources = load_sources(data, timings=timings)
        seconds = time.perf_counter() - began
    rows = {name: len(frame) for name, frame in sources.tables.items()}
    total = sum(rows.values())

    print(f"sources: {data} (data end {sources.data_end.date()})")
    print(f"  {'table':<14} {'rows':>12} {'seconds':>8} {'rows/s':>12}")
    for name, count in rows.items():
        took = timings[name]
        print(f"  {name:<14} {count:>12,d} {took:>8.1f} {count / max(took, 1e-9):>12,.0f}")
    print(f"  {'across tables':<14} {'':>12} {timings['across tables']:>8.1f}")
    print(f"load_sources   {total:>12,d} rows in {seconds:.1f} s "
          f"({total / seconds:,.0f} rows/s)")
    held = sum(f.memory_usage(deep=True).sum() for f in sources.tables.values()) / 2**20
    print(f"peak RSS       {_peak_mib():>12,.0f} MiB")
    print(f"held           {held:>12,.0f} MiB in the loaded frames")
    for warning in sources.warnings:
        print(f"warning: {warning}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
