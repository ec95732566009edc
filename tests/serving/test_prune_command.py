"""`churnlens prune-runs` through the real entry point, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from features.settings import settings_with, use_settings
from serving.risk import RiskScore
from serving.store.score_store import AccountInfo, ScoreStore, StoredScore

JAN, FEB, MAR, APR = (dt.date(2025, m, 1) for m in (1, 2, 3, 4))


def book(as_of: dt.date, accounts: int = 300) -> list[StoredScore]:
    return [StoredScore(RiskScore(f"x{i:03d}", as_of, 0.3, "high", "churnlens", "7", (),
                                  {"usage": 0.3}, {"logins_28d": 0.3, "tenure": -0.1}),
                        AccountInfo(f"x{i:03d}", f"X {i}", "smb", "ana", 1_000.0, None))
            for i in range(accounts)]


@pytest.fixture
def runs(store: ScoreStore, store_url: str) -> dict[dt.date, int]:
    """Four runs of 300 accounts in the store the command opens; February is a backfill,
    written last."""
    use_settings(settings_with(score_store_url=store_url))
    written = {}
    for as_of in (JAN, MAR, APR, FEB):
        written[as_of] = store.write_run("7", as_of, book(as_of))
    return written


def test_a_dry_run_names_the_runs_and_deletes_nothing(run_cli, store, runs):
    result = run_cli("prune-runs", "--keep", "2", "--dry-run")
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == (
        f"Would delete 2 runs (ids {runs[JAN]}, {runs[FEB]}, as of 2025-01-01 to 2025-02-01) "
        f"with 600 account scores and keep 2 runs (ids {runs[MAR]}-{runs[APR]}, as of "
        f"2025-03-01 to 2025-04-01); nothing was deleted (dry run).")
    assert [r.id for r in store.runs()] == [runs[d] for d in (APR, MAR, FEB, JAN)]


def test_prune_runs_deletes_the_old_runs_and_says_what_it_kept(run_cli, store, store_url,
                                                                runs):
    result = run_cli("prune-runs", "--keep", "1")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == (
        f"Deleted 3 runs (ids {runs[JAN]}-{runs[MAR]}, {runs[FEB]}, as of 2025-01-01 to "
        f"2025-03-01) with 900 account scores; kept 1 run (id {runs[APR]}, as of "
        f"2025-04-01).")
    if store_url.startswith("sqlite"):
        assert lines[1].startswith("SQLite file: ")
        assert lines[1].endswith(" after; --vacuum returns the freed space to the disk.")
    else:
        assert len(lines) == 1
    assert [r.id for r in store.runs()] == [runs[APR]]

    again = run_cli("prune-runs", "--keep", "1")
    assert again.code == 0, again.err
    assert again.out.splitlines()[0] == (
        f"Nothing to delete: the store holds 1 run (id {runs[APR]}, as of 2025-04-01), no "
        f"more than --keep 1.")


def test_vacuum_reports_the_file_shrinking_or_leaves_it_to_postgresql(run_cli, store_url,
                                                                      runs):
    result = run_cli("prune-runs", "--keep", "1", "--vacuum")
    assert result.code == 0, result.err
    size = result.out.splitlines()[1]
    if store_url.startswith("sqlite"):
        before, after = (float(part.split()[-2].replace(",", "")) for part in
                         size.removesuffix(" after VACUUM.").split(" before, "))
        assert size.startswith("SQLite file: ") and after < before
    else:
        assert size == ("Nothing to vacuum: the database reclaims the freed space itself "
                        "(PostgreSQL: autovacuum).")


@pytest.mark.parametrize("keep", ["0", "-1"])
def test_keep_must_be_at_least_one(run_cli, store, runs, keep):
    result = run_cli("prune-runs", "--keep", keep)
    assert result.code == 2
    assert "--keep" in result.err and "greater than or equal to 1" in result.err
    assert len(store.runs()) == 4


def test_keep_is_required(run_cli):
    result = run_cli("prune-runs")
    assert result.code == 2 and "--keep" in result.err


def test_help_documents_every_option_without_opening_the_store():
    code = ("import sys; from serving.cli import app; sys.argv = ['churnlens', 'prune-runs', "
            "'--help']\ntry:\n    app()\nexcept SystemExit:\n    pass\n"
            "print('sqlalchemy' in sys.modules, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stderr.strip() == "False"  # nothing heavy is imported to answer --help
    for option in ("--keep", "--vacuum", "--dry-run"):
        assert option in done.stdout
    assert "Delete all but the newest scoring runs" in done.stdout
