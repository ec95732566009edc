"""`churnlens simulate` can shape its dataset like a partial real export."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from features.simulator import SimulationConfig
from features.simulator.exports import ExportShape
from features.simulator.publish import simulate_into

CONFIG = SimulationConfig(n_accounts=60, start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31),
                          seed=3)
CUT = dt.date(2024, 11, 30)


def _read(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False) if path.suffix == ".csv" \
        else pd.read_parquet(path)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_usage_only_export_with_early_billing_keeps_everything_else_as_simulated(
        tmp_path, fmt):
    full = simulate_into(CONFIG, tmp_path / "full", fmt)
    shaped = simulate_into(CONFIG, tmp_path / "shaped", fmt,
                           shape=ExportShape(usage_only=True, subscriptions_end=CUT))
    written = sorted(p.name for p in (tmp_path / "shaped").iterdir() if p.is_file())
    assert written == sorted(["dataset.json", f"accounts.{fmt}", f"subscriptions.{fmt}",
                              f"usage_events.{fmt}"])
    assert set(shaped.rows) == {"accounts", "subscriptions", "usage_events"}

    before = _read(full.paths["subscriptions"])
    after = _read(shaped.paths["subscriptions"])
    starts = pd.to_datetime(before["start_date"], utc=True)
    expected = before[starts < pd.Timestamp(CUT, tz="UTC") + pd.Timedelta(days=1)]
    assert 0 < len(after) == shaped.rows["subscriptions"] < len(before)
    pd.testing.assert_frame_equal(after.reset_index(drop=True),
                                  expected.reset_index(drop=True))
    for table in ("accounts", "usage_events"):
        pd.testing.assert_frame_equal(_read(shaped.paths[table]), _read(full.paths[table]))

    meta = json.loads(shaped.paths["dataset"].read_text())
    assert "data_end" not in meta and meta["generator"] == "churnlens simulate"
    assert json.loads(full.paths["dataset"].read_text())["data_end"] == "2024-12-31"


def test_the_simulate_command_checks_and_applies_its_export_options(tmp_path, run_cli):
    late = run_cli("simulate", "--accounts", "20", "--start", "2024-01-01", "--end",
                   "2024-06-30", "--subscriptions-end", "2024-07-15", "--out", tmp_path / "a")
    assert late.code != 0 and "must lie between" in late.err
    assert not (tmp_path / "a").exists()

    made = run_cli("simulate", "--accounts", "40", "--start", "2024-01-01", "--end",
                   "2024-12-31", "--terms", "annual", "--out", tmp_path / "b")
    assert made.code == 0, made.err
    terms = pd.read_parquet(tmp_path / "b" / "subscriptions.parquet")
    days = (terms["end_date"] - terms["start_date"]).dt.days
    assert days.between(360, 370).all(), days.describe()
    assert "--usage-only" in run_cli("simulate", "--help").out
