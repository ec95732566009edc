"""`churnlens score`, `rank` and `keys` through the real entry point."""

from __future__ import annotations

import csv
import json
import stat

import pytest
import sqlalchemy as sa

from serving.auth import KeyRing, Role
from serving.store.score_store import ListQuery, ScoreStore

pytestmark = pytest.mark.slow


def test_score_then_rank_and_export(champion, simulated_set, run_cli, isolated_settings,
                                    tmp_path):
    _, manifest, _ = simulated_set
    sources = manifest["sources"]["location"]
    scored = run_cli("score", "--data", sources)
    assert scored.code == 0, scored.err
    assert f"model version {champion.version}" in scored.out
    example = json.loads((isolated_settings.home / "example-score-request.json").read_text())
    assert len(example["accounts"]) == 2 and example["accounts"][0]["features"]

    ranked = run_cli("rank", "--limit", "3")
    assert ranked.code == 0, ranked.err
    assert len([ln for ln in ranked.out.splitlines() if ln.strip()[:2].rstrip(".").isdigit()
                ]) == 3

    out = tmp_path / "high.csv"
    exported = run_cli("rank", "--band", "high", "--csv", out)
    assert exported.code == 0, exported.err
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    store = ScoreStore(isolated_settings.score_store)
    try:
        page = store.ranked(ListQuery(band="high", per_page=200))
    finally:
        store.dispose()
    assert len(rows) == page.total
    assert [r["account_id"] for r in rows[:len(page.items)]] == [
        a.account_id for a in page.items]
    assert all(r["band"] == "high" for r in rows)

    # The run keeps every non-zero contribution for "moved most", not only the reasons.
    engine = sa.create_engine(isolated_settings.score_store)
    try:
        with engine.connect() as conn:
            widths = [len(json.loads(d) if isinstance(d, str) else d) for (d,) in conn.execute(
                sa.text("SELECT drivers FROM scores LIMIT 50"))]
    finally:
        engine.dispose()
    assert max(widths) > 5


def test_score_without_a_champion_says_what_to_do(run_cli, tiny_dir):
    result = run_cli("score", "--data", tiny_dir)
    assert result.code != 0
    assert "churnlens train" in result.err


def test_keys_demo_writes_owner_only_plain_keys_and_a_hashed_file(run_cli,
                                                                  isolated_settings):
    first = run_cli("keys", "demo")
    assert first.code == 0, first.err
    home = isolated_settings.home
    plain = dict(line.split(":", 1) for line in
                 (home / "demo-keys.txt").read_text().splitlines())
    assert set(plain) == {"scorer", "viewer", "admin"}
    assert stat.S_IMODE((home / "demo-keys.txt").stat().st_mode) == 0o600
    ring = KeyRing.from_file(home / "api-keys.txt")
    assert ring.role_of(plain["viewer"]) is Role.viewer
    assert plain["viewer"] not in (home / "api-keys.txt").read_text()
    assert f"Bearer {plain['viewer']}" in first.out
    again = run_cli("keys", "demo")
    assert again.code == 0 and f"Bearer {plain['viewer']}" in again.out  # keys are kept


def test_keys_new_prints_the_key_once_and_files_only_its_hash(run_cli, isolated_settings):
    result = run_cli("keys", "new", "scorer")
    assert result.code == 0, result.err
    key = result.out.splitlines()[0].removeprefix("key:").strip()
    written = (isolated_settings.home / "api-keys.txt").read_text()
    assert written.startswith("scorer:") and key not in written
    assert KeyRing.from_file(isolated_settings.home / "api-keys.txt").role_of(key) is Role.scorer


def test_score_with_history_scores_earlier_months_once_then_the_backtest_reads_them(
        champion, simulated_set, run_cli, isolated_settings):
    _, manifest, _ = simulated_set
    sources = manifest["sources"]["location"]
    first = run_cli("score", "--data", sources, "--history", "2")
    assert first.code == 0, first.err
    assert first.out.count("History: scoring run") == 2
    store = ScoreStore(isolated_settings.score_store)
    try:
        days = sorted(run.as_of for run in store.runs())
        assert len(days) == 3 and days[0].day == days[1].day == 1
        # the two months before the latest run's, month by month
        assert (days[1] - days[0]).days in (28, 29, 30, 31) and days[1] < days[2]
        assert (days[2] - days[1]).days <= 31
        again = run_cli("score", "--data", sources, "--history", "2")
        assert again.code == 0, again.err
        assert "History" not in again.out  # those months are stored already
        assert sorted(run.as_of for run in store.runs()) == [*days, days[2]]
        engine = sa.create_engine(isolated_settings.score_store)
        with engine.connect() as conn:
            evaluated = conn.execute(sa.text("SELECT count(*) FROM alert_evaluations")).scalar()
        engine.dispose()
        assert evaluated == 4
    finally:
        store.dispose()
    backtest = run_cli("alerts", "backtest", "--data", sources)
    assert backtest.code == 0, backtest.err
    assert "Backtest over 4 runs" in backtest.out and "(any rule)" in backtest.out


def test_score_of_a_partitioned_base_on_a_dask_cluster_stores_the_same_run(
        champion, simulated_set, run_cli, isolated_settings, tmp_path):
    _, manifest, _ = simulated_set
    sources = manifest["sources"]["location"]
    whole = run_cli("score", "--data", sources, "--history", "1", "--no-alerts")
    assert whole.code == 0, whole.err
    parts = tmp_path / "parts"
    assert run_cli("partition", "--data", sources, "--out", parts, "--buckets", "7").code == 0
    bucketed = run_cli("score", "--data", parts, "--cluster", "local:2", "--history", "1")
    assert bucketed.code == 0, bucketed.err
    assert "History" not in bucketed.out  # that month is stored already
    assert "Monitoring:" in bucketed.out and "Alerts of run 3:" in bucketed.out
    engine = sa.create_engine(isolated_settings.score_store)
    try:
        with engine.connect() as conn:
            runs = conn.execute(sa.text("SELECT id, as_of FROM scoring_runs ORDER BY id")).all()
            assert len(runs) == 3 and runs[1].as_of == runs[2].as_of
            for table in ("scores", "score_reasons", "score_evidence",
                          "quarter_renewals", "run_profiles", "account_facts", "run_sources"):
                stored = [[tuple(r[1:]) for r in conn.execute(sa.text(
                               f"SELECT * FROM {table} WHERE run_id = :run "
                               f"ORDER BY 2"), {"run": run.id}).all()]
                          for run in runs[1:]]
                assert stored[0] == stored[1] and stored[0], table
    finally:
        engine.dispose()
    alone = run_cli("score", "--data", sources, "--cluster", "local:2")
    assert alone.code == 2 and "is not partitioned" in alone.err
