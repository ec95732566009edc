"""`churnlens simulate`, `validate` and `build` through the real entry point."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from tiny_sources import DATA_END, write_sqlite

SMALL = ("--accounts", "80", "--start", "2023-01-01", "--end", "2024-12-31", "--seed", "3")


def test_simulate_writes_a_complete_dataset_into_the_workspace(run_cli, isolated_settings):
    result = run_cli("simulate", *SMALL)
    assert result.code == 0, result.err
    sources = isolated_settings.home / "sources"
    assert result.out.strip().splitlines()[-1] == str(sources)
    for table in ("accounts", "subscriptions", "usage_events", "tickets", "surveys",
                  "csm_notes"):
        assert (sources / f"{table}.parquet").is_file()
    assert (sources / "_truth" / "terms.parquet").is_file()
    assert json.loads((sources / "dataset.json").read_text())["data_end"] == "2024-12-31"
    assert not [p for p in sources.parent.iterdir() if p.name.startswith(".")]


def test_simulate_refuses_to_overwrite_unless_told(run_cli, tmp_path):
    out = tmp_path / "data"
    assert run_cli("simulate", *SMALL, "--out", out).code == 0
    before = (out / "accounts.parquet").read_bytes()

    refused = run_cli("simulate", *SMALL, "--out", out, "--seed", "4")
    assert refused.code == 2
    assert "--force" in refused.err and "--if-missing" in refused.err

    kept = run_cli("simulate", *SMALL, "--out", out, "--seed", "4", "--if-missing")
    assert kept.code == 0 and "kept it" in kept.out
    assert (out / "accounts.parquet").read_bytes() == before

    replaced = run_cli("simulate", *SMALL[:-2], "--seed", "4", "--out", out, "--force")
    assert replaced.code == 0, replaced.err
    assert (out / "accounts.parquet").read_bytes() != before


def test_a_failed_simulation_leaves_nothing_behind(run_cli, tmp_path, monkeypatch):
    def explode(config, out, fmt, progress):
        (Path(out) / "accounts.parquet").write_bytes(b"half")
        raise RuntimeError("disk full")

    monkeypatch.setattr("features.simulator.publish.simulate", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        run_cli("simulate", *SMALL, "--out", tmp_path / "data")
    assert list(tmp_path.iterdir()) == []


def test_simulate_rejects_an_impossible_period(run_cli, tmp_path):
    result = run_cli("simulate", "--start", "2024-01-01", "--end", "2024-02-01",
                     "--out", tmp_path / "d")
    assert result.code == 2
    assert "90 days" in result.err
    assert not (tmp_path / "d").exists()


def test_validate_on_a_simulated_workspace_prints_plausible_retention(run_cli):
    assert run_cli("simulate", "--accounts", "300", "--seed", "5").code == 0
    result = run_cli("validate")
    assert result.code == 0, result.err
    rows = re.findall(r"^\s+(20\d\d)\s+all\s+(\d+)\s+([\d.]+)%\s+([\d.]+)%\s+([\d.]+)%$",
                      result.out, flags=re.MULTILINE)
    full_years = [r for r in rows if r[0] in ("2023", "2024", "2025")]
    assert len(full_years) == 3
    for _year, accounts, churn, grr, nrr in full_years:
        assert int(accounts) > 100
        assert 3 <= float(churn) <= 30
        assert 60 <= float(grr) <= 100
        assert 80 <= float(nrr) <= 125


def test_build_writes_a_training_set_and_prints_its_path_last(run_cli, isolated_settings):
    assert run_cli("simulate", *SMALL).code == 0
    result = run_cli("build", "--start", "2023-06-01", "--end", "2024-12-01")
    assert result.code == 0, result.err
    path = Path(result.out.strip().splitlines()[-1])
    assert path.parent == isolated_settings.home / "training_sets" / "default"
    frame = pd.read_parquet(path)
    manifest = json.loads(path.with_name(path.stem + ".manifest.json").read_text())
    assert manifest["rows"] == len(frame)
    assert frame["as_of"].min() == pd.Timestamp("2023-06-01", tz="UTC")
    assert frame["as_of"].max() == pd.Timestamp("2024-12-01", tz="UTC")
    assert frame["churned"].isna().any() and frame["churned"].notna().any()


def test_build_to_a_named_file_with_explicit_dates(run_cli, tmp_path):
    assert run_cli("simulate", *SMALL).code == 0
    out = tmp_path / "sets" / "two.parquet"
    result = run_cli("build", "--dates", "2024-03-01, 2024-09-01", "--out", out)
    assert result.code == 0, result.err
    assert result.out.strip().splitlines()[-1] == str(out)
    assert sorted(pd.read_parquet(out)["as_of"].dt.strftime("%Y-%m-%d").unique()) == [
        "2024-03-01", "2024-09-01"]


def test_build_rejects_dates_after_the_data_and_conflicting_options(run_cli):
    assert run_cli("simulate", *SMALL).code == 0
    late = run_cli("build", "--dates", "2025-06-01")
    assert late.code != 0 and "2025-06-01" in late.err
    both = run_cli("build", "--dates", "2024-03-01", "--start", "2024-01-01")
    assert both.code == 2 and "not both" in both.err


def test_build_help_documents_every_option(run_cli):
    result = run_cli("build", "--help")
    assert result.code == 0
    for option in ("--data", "--data-end", "--start", "--end", "--freq", "--dates", "--name",
                   "--out"):
        line = next((ln for ln in result.out.splitlines() if option + " " in ln), None)
        assert line is not None, f"{option} missing from build --help"


def test_build_starts_once_every_feature_window_lies_within_the_history(run_cli):
    # Simulated contracts reach back to 2021; activity is recorded from 2023-01-01, and
    # the longest window is 90 days: earlier snapshots would read silence as churn risk.
    assert run_cli("simulate", *SMALL).code == 0
    result = run_cli("build")
    assert result.code == 0, result.err
    frame = pd.read_parquet(result.out.strip().splitlines()[-1])
    assert frame["as_of"].min() == pd.Timestamp("2023-04-01", tz="UTC")


def test_partition_then_build_gives_the_same_training_set_file(run_cli, isolated_settings,
                                                               tmp_path):
    assert run_cli("simulate", *SMALL).code == 0
    dates = "2024-03-01,2024-09-01"
    whole = run_cli("build", "--dates", dates, "--out", tmp_path / "whole.parquet")
    assert whole.code == 0, whole.err
    parts = tmp_path / "parts"
    split = run_cli("partition", "--out", parts, "--buckets", "5")
    assert split.code == 0, split.err
    assert "in 5 account buckets" in split.out
    assert sorted(p.name for p in (parts / "accounts").iterdir()) == [
        f"bucket={b:03d}" for b in range(5)]
    bucketed = run_cli("build", "--data", parts, "--dates", dates,
                       "--out", tmp_path / "bucketed.parquet")
    assert bucketed.code == 0, bucketed.err
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "bucketed.parquet"),
                                  pd.read_parquet(tmp_path / "whole.parquet"))
    manifests = [json.loads((tmp_path / f"{n}.manifest.json").read_text())
                 for n in ("whole", "bucketed")]
    assert manifests[0]["sources"]["fingerprints"] == manifests[1]["sources"]["fingerprints"]
    assert manifests[0]["content_hash"] == manifests[1]["content_hash"]
    again = run_cli("partition", "--out", parts)
    assert again.code == 2 and "exists" in again.err
    fixed = run_cli("build", "--data", parts, "--data-end", "2024-12-31")
    assert fixed.code == 2 and "Partition the source again" in fixed.err
    on_dask = run_cli("build", "--data", parts, "--dates", dates, "--cluster", "local:2",
                      "--out", tmp_path / "dask.parquet")
    assert on_dask.code == 0, on_dask.err
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "dask.parquet"),
                                  pd.read_parquet(tmp_path / "whole.parquet"))
    whole_on_dask = run_cli("build", "--cluster", "local:2", "--out", tmp_path / "x.parquet")
    assert whole_on_dask.code == 2 and "is not partitioned" in whole_on_dask.err
    assert not (tmp_path / "x.parquet").exists()
    bad = run_cli("build", "--data", parts, "--cluster", "yarn")
    assert bad.code == 2 and "tcp://HOST:8786" in bad.err
    checked, whole_checked = run_cli("validate", parts), run_cli("validate")
    assert checked.code == 0 and whole_checked.code == 0, checked.err
    assert "checked bucket by bucket (5 buckets)" in checked.out
    # the same summary: tables, spans, segments, terms and retention
    assert checked.out.split("\n", 1)[1] == whole_checked.out.split("\n", 1)[1]


def test_data_takes_a_database_url_as_written(run_cli, tmp_path):
    """--data is text: a Path would fold sqlite:///x into sqlite:/x."""
    url = write_sqlite(tmp_path / "crm.db")
    checked = run_cli("validate", "--data", url, "--data-end", DATA_END)
    assert checked.code == 0, checked.err
    parts = tmp_path / "parts"
    split = run_cli("partition", "--data", url, "--data-end", DATA_END, "--out", parts,
                    "--buckets", "3")
    assert split.code == 0, split.err
    assert split.out.startswith(f"{url}: ") and (parts / "buckets.json").is_file()
    built = run_cli("build", "--data", url, "--data-end", DATA_END, "--out",
                    tmp_path / "set.parquet")
    assert built.code == 0, built.err
