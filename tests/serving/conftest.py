"""Score-store fixtures: each store test runs on SQLite and on a real, throwaway PostgreSQL.

The PostgreSQL server is a cluster of its own, created with the installed server binaries
(`initdb`, `pg_ctl`) in a temporary directory, listening on 127.0.0.1 on a free port and
on a Unix socket inside that directory; it is stopped and deleted after the session. As
root, the server runs as the `postgres` user, since PostgreSQL refuses to run as root.
Without the binaries the PostgreSQL cases skip (CI installs them: see .ci/run).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from features.sources.readers import engine_url
from serving.store.schema import metadata
from serving.store.score_store import ScoreStore
from training.config import load_config
from training.run import RunOutcome, run_training

PG_ROOT = Path("/usr/lib/postgresql")
PG_USER = "churnlens"
PG_DATABASE = "churnlens_test"
SERVER_OPTIONS = "-c fsync=off -c full_page_writes=off"


def _server_binaries() -> Path | None:
    """The newest installed PostgreSQL server's bin directory, or one on PATH."""
    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(p) for p in path.parent.name.split(".") if p.isdigit())

    found = sorted((d for d in PG_ROOT.glob("*/bin")
                    if (d / "initdb").is_file() and (d / "pg_ctl").is_file()), key=version)
    if found:
        return found[-1]
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl and Path(initdb).parent == Path(pg_ctl).parent:
        return Path(initdb).parent
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Cluster:
    """A throwaway PostgreSQL cluster in `base`, run as `owner` when we are root."""

    def __init__(self, binaries: Path, base: Path, owner: pwd.struct_passwd | None) -> None:
        self.binaries, self.base, self.owner = binaries, base, owner
        self.data, self.sockets, self.log = base / "data", base / "sockets", base / "server.log"
        self.port = 0

    def run(self, tool: str, *args: str) -> None:
        as_owner: dict[str, Any] = {}
        if self.owner is not None:
            as_owner = {"user": self.owner.pw_uid, "group": self.owner.pw_gid,
                        "extra_groups": []}
        done = subprocess.run([str(self.binaries / tool), *args], capture_output=True,
                              text=True, cwd=self.base, check=False, **as_owner)
        if done.returncode != 0:
            log = self.log.read_text() if self.log.is_file() else ""
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({done.returncode}):\n"
                               f"{done.stdout}{done.stderr}{log}")

    def start(self) -> str:
        self.sockets.mkdir()
        if self.owner is not None:
            for path in (self.base, self.sockets):
                os.chown(path, self.owner.pw_uid, self.owner.pw_gid)
        self.run("initdb", "-D", str(self.data), "-U", PG_USER, "--auth=trust", "-E", "UTF8",
                 "--no-locale", "--no-sync")
        for attempt in range(3):  # another process may take the free port first
            self.port = _free_port()
            try:
                self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                         "-o", f"-h 127.0.0.1 -p {self.port} -k {self.sockets} "
                               f"{SERVER_OPTIONS}", "start")
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        admin = sa.create_engine(
            f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/postgres",
            isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {PG_DATABASE}"))
        admin.dispose()
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{PG_DATABASE}"

    def stop(self) -> None:
        if (self.data / "postmaster.pid").is_file():
            self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        """Start the stopped server again on its port, as after an outage."""
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                 "-o", f"-h 127.0.0.1 -p {self.port} -k {self.sockets} {SERVER_OPTIONS}",
                 "start")


def _cluster() -> _Cluster:
    binaries = _server_binaries()
    if binaries is None:
        pytest.skip("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb "
                    "and pg_ctl); `apt-get install postgresql` to run the PostgreSQL cases")
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run the "
                        "PostgreSQL server as (PostgreSQL refuses to run as root)")
    return _Cluster(binaries, Path(tempfile.mkdtemp(prefix="churnlens-pg-")), owner)


@pytest.fixture
def postgres_cluster() -> Iterator[tuple[_Cluster, str]]:
    """A PostgreSQL server of the test's own, which it may stop and resume, and its URL."""
    cluster = _cluster()
    try:
        yield cluster, cluster.start()
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(cluster.base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of a fresh PostgreSQL database on a throwaway local server."""
    cluster = _cluster()
    try:
        yield cluster.start()
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(cluster.base, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A score-store URL on each backend (the SQLite file's directory does not exist yet)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'scores.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[ScoreStore]:
    """An empty score store; PostgreSQL tables are dropped again after the test."""
    opened = ScoreStore(store_url)
    try:
        yield opened
    finally:
        opened.dispose()
        if store_url.startswith("postgresql"):
            engine = sa.create_engine(engine_url(store_url))
            metadata.drop_all(engine)
            engine.dispose()


@pytest.fixture
def champion(simulated_set: tuple[Any, Any, Path]) -> RunOutcome:
    """A model trained on the simulated set (no rolling backtest) and registered as the
    champion of this test's workspace MLflow."""
    frame, manifest, path = simulated_set
    config = load_config()
    config = config.model_copy(update={
        "split": config.split.model_copy(update={"backtest_folds": 0})})
    return run_training(frame, manifest, config, path)
