"""A throwaway PostgreSQL server for the tests that need a real one.

The server is a cluster of its own, created with the installed server binaries (`initdb`,
`pg_ctl`) in a temporary directory, listening on 127.0.0.1 on a free port and on a Unix
socket inside that directory; the fixtures in `conftest.py` stop and delete it. As root,
the server runs as the `postgres` user, since PostgreSQL refuses to run as root. Without
the binaries the PostgreSQL cases skip (CI installs them: see .ci/run).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

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


class Cluster:
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


def throwaway_cluster() -> Cluster:
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
    return Cluster(binaries, Path(tempfile.mkdtemp(prefix="churnlens-pg-")), owner)
