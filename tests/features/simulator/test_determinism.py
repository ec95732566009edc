"""Same seed, same bytes; chunking never changes the data; another seed changes it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow.parquet as pq

from features.simulator import SimulationConfig, simulate

TINY = SimulationConfig(
    n_accounts=60, start=dt.date(2024, 1, 1), end=dt.date(2025, 3, 31), seed=5, chunk_size=25
)


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    simulate(TINY, tmp_path / "a")
    simulate(TINY, tmp_path / "b")
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert len(a) == 6 + 3 + 1  # sources, _truth/ (terms, shocks, risk_as_of), dataset.json
    assert a.keys() == b.keys()
    different = [name for name in a if a[name] != b[name]]
    assert different == []


def test_chunk_size_does_not_change_the_data(tmp_path: Path) -> None:
    simulate(TINY, tmp_path / "a")
    simulate(TINY.model_copy(update={"chunk_size": 7}), tmp_path / "b")
    for path in sorted((tmp_path / "a").rglob("*.parquet")):
        other = tmp_path / "b" / path.relative_to(tmp_path / "a")
        assert pq.read_table(path).equals(pq.read_table(other)), path.name


def test_different_seed_gives_different_data(tmp_path: Path) -> None:
    simulate(TINY, tmp_path / "a")
    simulate(TINY.model_copy(update={"seed": 6}), tmp_path / "b")
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    for name in ("accounts.parquet", "usage_events.parquet", "_truth/terms.parquet",
                 "_truth/risk_as_of.parquet"):
        assert a[name] != b[name], name
    assert json.loads(b["dataset.json"])["seed"] == 6
