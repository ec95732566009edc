"""Simulate into a directory all at once: a failed or interrupted run leaves nothing behind.

The simulator writes table by table as it goes, so it writes into a hidden sibling
directory that replaces the target only when every table and `dataset.json` exist.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import uuid
from pathlib import Path

from features.errors import ConfigError
from features.simulator.config import SimulationConfig
from features.simulator.exports import ExportShape, shape_export
from features.simulator.runner import DATASET_FILE, Progress, SimulationSummary, simulate
from features.simulator.writer import Format

log = logging.getLogger(__name__)


def is_simulated_dataset(out: Path) -> bool:
    """Whether `out` already holds a complete dataset (its dataset.json is written last)."""
    return (out / DATASET_FILE).is_file()


def simulate_into(config: SimulationConfig, out: Path, fmt: Format = "parquet", *,
                  replace: bool = False, progress: Progress | None = None,
                  shape: ExportShape | None = None) -> SimulationSummary:
    """Simulate into `out`, which must be absent or empty unless `replace` is set;
    `shape` makes it look like a partial real export (`exports`)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file; give --out a directory.")
    if out.is_dir() and any(out.iterdir()) and not replace:
        raise ConfigError(f"{out} already holds files. Pass --force to replace them, "
                          f"--if-missing to keep an existing dataset, or choose another --out.")
    out.parent.mkdir(parents=True, exist_ok=True)
    # mkdir (not mkdtemp, which makes it owner-only) so the dataset gets the umask's mode.
    staging = out.parent / f".{out.name}.{uuid.uuid4().hex[:12]}.partial"
    staging.mkdir()
    try:
        summary = simulate(config, staging, fmt, progress)
        if shape is not None and shape.changes_anything:
            summary = shape_export(summary, shape)
        if out.exists():
            retired = staging.with_suffix(".old")
            out.rename(retired)
            staging.rename(out)
            shutil.rmtree(retired)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _moved(summary, staging, out)


def _moved(summary: SimulationSummary, old: Path, new: Path) -> SimulationSummary:
    def move(path: Path) -> Path:
        return new / path.relative_to(old)

    return dataclasses.replace(
        summary,
        out=new,
        paths={name: move(p) for name, p in summary.paths.items()},
        truth_paths={name: move(p) for name, p in summary.truth_paths.items()},
    )
