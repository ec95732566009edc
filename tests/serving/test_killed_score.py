"""`churnlens score` killed with SIGKILL mid-run: no partial run is ever visible in the
score store, and the next run succeeds.

A process killed by SIGKILL runs no cleanup, so only the store's own atomicity can keep
half a run out of sight: the run row and all its rows are one transaction, and a
transaction that never commits is rolled back when SQLite next opens the file.

The first test stops the command at a known point of the write: a SQLAlchemy listener,
installed in the child process by the test (the product has no hook), pauses it right
after the first batch of score rows went into the database, uncommitted; the test then
kills it. The second kills the real `churnlens` executable at a random moment after
scoring has begun, so it may land anywhere in scoring, explaining or writing.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from serving.store.schema import metadata
from serving.store.score_store import ListQuery, ScoreStore

pytestmark = pytest.mark.slow

# Runs `churnlens score` in the child, pausing it (forever) inside the run's transaction
# once the first score rows are inserted; the marker file tells the test it got there.
PAUSED_SCORE = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    import sqlalchemy as sa

    def pause_inside_the_write(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("INSERT INTO SCORES "):
            Path(os.environ["PAUSED_MARKER"]).write_text(str(os.getpid()))
            time.sleep(600)

    sa.event.listen(sa.engine.Engine, "after_cursor_execute", pause_inside_the_write)
    from serving.cli import main
    sys.argv = ["churnlens", *sys.argv[1:]]
    main()
""")


def _environment(home: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("CHURNLENS_")}
    env.pop("MLFLOW_TRACKING_URI", None)
    return {**env, "CHURNLENS_HOME": str(home)}


def _snapshot(url: str) -> dict[str, Any]:
    """What a reader can see of the store: every run, the ranked list, and row counts."""
    store = ScoreStore(url)
    try:
        runs = store.runs(limit=1000)
        page = store.ranked(ListQuery(per_page=50))
        ranked = [(a.account_id, a.probability, a.band) for a in page.items]
        total = page.total
    finally:
        store.dispose()
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            counts = {table.name: conn.execute(
                sa.select(sa.func.count()).select_from(table)).scalar_one()
                for table in metadata.sorted_tables}
    finally:
        engine.dispose()
    return {"runs": [(r.id, r.rows, r.as_of) for r in runs], "ranked": ranked,
            "total": total, "counts": counts}


def _score(home: Path, data: str) -> subprocess.CompletedProcess[str]:
    churnlens = Path(sys.executable).with_name("churnlens")
    return subprocess.run([str(churnlens), "score", "--data", data], env=_environment(home),
                          capture_output=True, text=True, timeout=300, check=False)


def _kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def _assert_rerun_succeeds(home: Path, data: str, before: dict[str, Any]) -> None:
    again = _score(home, data)
    assert again.returncode == 0, again.stderr
    after = _snapshot(f"sqlite:///{home / 'scores.db'}")
    assert len(after["runs"]) == len(before["runs"]) + 1
    newest = after["runs"][0]
    assert newest[1] == before["runs"][0][1]  # a whole run: every active account
    assert after["counts"]["scores"] == before["counts"]["scores"] + newest[1]


def test_a_killed_score_leaves_no_partial_run_and_a_rerun_succeeds(
        champion, simulated_set, isolated_settings, tmp_path):
    _, manifest, _ = simulated_set
    data = manifest["sources"]["location"]
    home = isolated_settings.home
    first = _score(home, data)
    assert first.returncode == 0, first.stderr
    url = f"sqlite:///{home / 'scores.db'}"
    before = _snapshot(url)
    assert len(before["runs"]) == 1 and before["total"] > 0

    # 1. Killed inside the write: the run row and a batch of its scores are in the
    # database, not committed.
    _kill_while_paused_in_the_write(home, data, tmp_path / "paused")
    assert _snapshot(url) == before
    _assert_rerun_succeeds(home, data, before)

    # 2. The real executable, killed at a random moment once scoring has begun.
    before = _snapshot(url)
    _kill_at_random(home, data)
    after = _snapshot(url)
    if after != before:  # the kill came after the commit: the whole run is there
        assert len(after["runs"]) == len(before["runs"]) + 1
        assert after["runs"][0][1] == before["runs"][0][1]
        before = after
    _assert_rerun_succeeds(home, data, before)


def _kill_while_paused_in_the_write(home: Path, data: str, marker: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", PAUSED_SCORE, "score", "--data", data],
        env={**_environment(home), "PAUSED_MARKER": str(marker)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "the score run never reached its write"
            time.sleep(0.1)
        _kill(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def _kill_at_random(home: Path, data: str) -> None:
    churnlens = Path(sys.executable).with_name("churnlens")
    process = subprocess.Popen([str(churnlens), "score", "--data", data],
                               env=_environment(home), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        for line in process.stderr:  # INFO lines: the run logs as it scores
            if "scored " in line:
                break
        else:
            raise AssertionError(f"the score run ended before scoring: {process.wait()}")
        time.sleep(random.uniform(0.0, 1.5))  # explaining, evidence, the write, or after
        if process.poll() is None:
            _kill(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
