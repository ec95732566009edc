"""Benchmark partitioning a database source: streamed off the cursor, against a whole read.

A simulated base of `--accounts` accounts (three years) is written to a SQLite database,
then, each step a `churnlens` command in a new process: `validate` reads the database
whole (as `partition` did before it streamed), `partition` splits it into buckets reading
a batch of rows at a time, and `partition` splits the simulator's Parquet files too.
Printed per step: seconds and peak RSS, and whether the two partitions hold the same
rows (their manifests' fingerprints and row counts).

    .venv/bin/python bench/database.py [--accounts 2000] [--buckets 16]

Target (issue 20): partitioning a database holds a batch and a bucket, not the base.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.steps import run_step

WRITE_ROWS = 500_000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2_000)
    parser.add_argument("--buckets", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", nargs=2, metavar=("SOURCES", "DATABASE"),
                        help=argparse.SUPPRESS)  # the child that writes the database
    args = parser.parse_args(argv)
    if args.write:
        write_database(Path(args.write[0]), Path(args.write[1]))
        return
    with tempfile.TemporaryDirectory(prefix="churnlens-bench-database-") as tmp:
        root = Path(tmp)
        run_step("simulate", "simulate", "--accounts", str(args.accounts), "--seed",
                 str(args.seed), "--start", "2023-01-01", "--end", "2025-12-31", "--out",
                 root / "sources", home=root)
        began = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--write", str(root / "sources"),
                        str(root / "crm.db")], check=True)
        print(f"{'written to SQLite':<40} {time.perf_counter() - began:>8.1f} s "
              f"({(root / 'crm.db').stat().st_size / 2**30:.2f} GiB file)")
        url = f"sqlite:///{root / 'crm.db'}"
        end = json.loads((root / "sources" / "dataset.json").read_text())["data_end"]
        run_step("validate: the database read whole", "validate", url, "--data-end", end,
                 home=root)
        run_step(f"partition the database, {args.buckets} buckets", "partition", "--data",
                 url, "--data-end", end, "--out", root / "from_db", "--buckets",
                 str(args.buckets), home=root)
        run_step(f"partition the Parquet files, {args.buckets} buckets", "partition",
                 "--data", root / "sources", "--data-end", end, "--out", root / "from_files",
                 "--buckets", str(args.buckets), home=root)
        db, files = (json.loads((root / d / "buckets.json").read_text())
                     for d in ("from_db", "from_files"))
        print(f"the two partitions hold the same rows: "
              f"{db['fingerprints'] == files['fingerprints'] and db['rows'] == files['rows']}"
              f" ({sum(db['rows'].values()):,} rows)")


def write_database(sources: Path, database: Path) -> None:
    """Every Parquet table of `sources` into a new SQLite database, a batch at a time."""
    import pyarrow.parquet as pq
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        for path in sorted(sources.glob("*.parquet")):
            for batch in pq.ParquetFile(path).iter_batches(batch_size=WRITE_ROWS):
                batch.to_pandas().to_sql(path.stem, conn, index=False, if_exists="append")
    engine.dispose()


if __name__ == "__main__":
    main()
