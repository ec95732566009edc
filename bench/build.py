"""Benchmark the training-set build: seconds per family, source rows/s and peak RSS.

.venv/bin/python bench/build.py --data /tmp/sim10k            # an existing source directory
.venv/bin/python bench/build.py --accounts 10000 --years 3    # simulate first, then build

Loading (reading, typing and validating the tables) is timed separately from the build,
which is what `build_training_set` does once the sources are in memory. `--fast-load`
reads the Parquet tables and casts them to the contract's dtypes without validating
them, so the build's own time and peak memory can be measured without the loader's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from features.point_in_time.artifacts import write_training_set
from features.point_in_time.spec import TrainingSetSpec
from features.point_in_time.training_set import build_training_set
from features.sources.contract import TABLES, Kind
from features.sources.loading import Sources, load_sources

EVENT_TABLES = ("usage_events", "tickets", "surveys", "csm_notes")


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_now_mib() -> float:
    """Current resident memory (Linux), to tell the build's own memory from the sources'."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


_DTYPES = {Kind.ID: "str", Kind.TEXT: "str", Kind.TIMESTAMP: "datetime64[ns, UTC]",
           Kind.FLOAT: "float64", Kind.SMALL_FLOAT: "float32", Kind.INT: "Int32",
           Kind.BOOL: "boolean", Kind.CATEGORY: "category"}


def _fast_load(data: Path) -> Sources:
    """Typed tables without validation: for measuring the build alone, never for real use."""
    tables = {}
    for name, table in TABLES.items():
        path = data / f"{name}.parquet"
        if path.is_file():
            frame = pd.read_parquet(path, columns=[c.name for c in table.columns])
            for col in table.columns:  # cast column by column: one copy at a time
                if str(frame[col.name].dtype) != _DTYPES[col.kind]:
                    frame[col.name] = frame[col.name].astype(_DTYPES[col.kind])
            tables[name] = frame
    data_end = pd.Timestamp(json.loads((data / "dataset.json").read_text())["data_end"],
                            tz="UTC")
    return Sources(tables, data_end, str(data))


def _simulate(accounts: int, years: int, seed: int, out: Path) -> None:
    from features.simulator import SimulationConfig, simulate

    start = dt.date(2023, 1, 1)
    end = dt.date(start.year + years, 1, 1) - dt.timedelta(days=1)
    began = time.perf_counter()
    simulate(SimulationConfig(n_accounts=accounts, start=start, end=end, seed=seed), out)
    print(f"simulated {accounts:,} accounts in {time.perf_counter() - began:.1f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="source directory")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--freq", choices=["monthly", "weekly"], default="monthly")
    parser.add_argument("--fast-load", action="store_true",
                        help="skip validation when loading (Parquet sources only)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="churnlens-build-bench-") as tmp:
        data = args.data
        if data is None:
            data = Path(tmp) / "sources"
            _simulate(args.accounts, args.years, args.seed, data)
        began = time.perf_counter()
        sources = _fast_load(data) if args.fast_load else load_sources(data)
        load_seconds = time.perf_counter() - began
        load_peak, loaded = _peak_mib(), _rss_now_mib()
        rows = {name: len(sources.tables[name]) for name in sources.tables}
        events = sum(rows.get(name, 0) for name in EVENT_TABLES)

        timings: dict[str, float] = {}
        spec = TrainingSetSpec(freq=args.freq)
        began = time.perf_counter()
        frame = build_training_set(sources, spec, timings)
        build_seconds = time.perf_counter() - began
        began = time.perf_counter()
        path = write_training_set(frame, spec, sources, workspace=Path(tmp) / "workspace")
        write_seconds = time.perf_counter() - began
        size_mib = path.stat().st_size / 2**20

    print(f"sources: {data}")
    for name, count in rows.items():
        print(f"  {name:<14} {count:>12,d} rows")
    how = "read, type" if args.fast_load else "read, type, validate"
    print(f"load ({how}) {load_seconds:>8.1f} s   peak RSS {load_peak:,.0f} MiB, "
          f"{loaded:,.0f} MiB held after loading")
    print(f"build ({args.freq})            {build_seconds:>8.1f} s   "
          f"{events / build_seconds:,.0f} source event rows/s")
    for step, seconds in sorted(timings.items(), key=lambda kv: -kv[1]):
        print(f"  {step:<12} {seconds:>8.1f} s  {100 * seconds / build_seconds:5.1f}%")
    print(f"write Parquet + manifest    {write_seconds:>8.1f} s   {size_mib:,.1f} MiB")
    labelled = int(frame["churned"].notna().sum())
    print(f"training set: {len(frame):,} rows x {frame.shape[1]} columns, {labelled:,} "
          f"labelled, churn rate {frame['churned'].astype(float).mean():.3%}")
    print(f"peak RSS {_peak_mib():,.0f} MiB (the build's own peak is at most "
          f"{_peak_mib() - loaded:,.0f} MiB above the loaded sources)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
