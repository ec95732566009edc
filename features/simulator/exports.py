"""Shape a simulated dataset like the exports real teams bring, traps included.

A real base often has usage only (no ticketing, survey or CSM tool connected), and its
tables are exported on different days: the subscriptions from billing a month before
the usage from product analytics, with no file saying where the data ends. These
options reproduce that from a complete simulation, so the loader's coverage checks and
the defaults for short, usage-only bases can be tried end to end. `_truth/` is left as
simulated: it still knows every term's outcome.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.simulator.runner import SimulationSummary

OPTIONAL_TABLES = ("tickets", "surveys", "csm_notes")


@dataclass(frozen=True)
class ExportShape:
    """How the written dataset differs from the complete simulation."""

    usage_only: bool = False  # drop tickets, surveys and CSM notes
    subscriptions_end: dt.date | None = None  # billing exported on this day

    @property
    def changes_anything(self) -> bool:
        return self.usage_only or self.subscriptions_end is not None


def shape_export(summary: SimulationSummary, shape: ExportShape) -> SimulationSummary:
    """Apply `shape` to the dataset of `summary` (in its staging directory)."""
    rows, paths = dict(summary.rows), dict(summary.paths)
    if shape.usage_only:
        for table in OPTIONAL_TABLES:
            paths.pop(table).unlink()
            rows.pop(table)
    if shape.subscriptions_end is not None:
        path = paths["subscriptions"]
        rows["subscriptions"] = _cut_subscriptions(path, shape.subscriptions_end)
        _unstate_data_end(paths["dataset"])
    return SimulationSummary(out=summary.out, rows=rows, paths=paths,
                             elapsed_seconds=summary.elapsed_seconds,
                             truth_paths=summary.truth_paths)


def _cut_subscriptions(path: Path, end: dt.date) -> int:
    """Keep the terms that billing knew of on `end` (those starting by then), every
    other byte of the table as written."""
    if path.suffix == ".csv":
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        kept = table[_started_by(table["start_date"], end)]
        kept.to_csv(path, index=False)
        return len(kept)
    data = pq.read_table(path)
    kept_rows = data.filter(pa.array(_started_by(data.column("start_date").to_pandas(), end)))
    pq.write_table(kept_rows, path)
    return kept_rows.num_rows


def _started_by(start: pd.Series, end: dt.date) -> np.ndarray:
    starts = pd.to_datetime(start, utc=True)
    return (starts < pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)).to_numpy(bool)


def _unstate_data_end(path: Path) -> None:
    """A real export states no data end; the loader must find it from the tables."""
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta.pop("data_end", None)
    path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
