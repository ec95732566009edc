"""Edits of a keys file: add a key, revoke one, list them — never a half-written file.

Every edit takes an exclusive lock on a sidecar `<file>.lock`, reads the file, changes
one line and replaces the file atomically, so two `churnlens keys` commands at once both
land and a serving key ring never reads a partial file. Comments and blank lines are
kept as they are; lines are read and written by `serving.access.grants`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
from collections.abc import Iterator
from pathlib import Path

from features.atomic import atomic_write_text
from features.errors import ConfigError
from serving.access.grants import Grant, format_line, parse_line

FILE_MODE = 0o600  # hashed keys, but a list of who may read what: owner only


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the keys file {path} ({exc}); check its path and "
                          "permissions") from None


def _is_key(line: str) -> bool:
    return bool(line.strip()) and not line.strip().startswith("#")


def _mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        return FILE_MODE


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = open(path.with_name(path.name + ".lock"), "a")  # noqa: SIM115 (held below)
    except OSError as exc:
        raise _unwritable(path, exc) from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write(path: Path, lines: list[str]) -> None:
    try:
        atomic_write_text(path, "\n".join(lines) + "\n", _mode(path))
    except OSError as exc:
        raise _unwritable(path, exc) from None


def _unwritable(path: Path, exc: OSError) -> ConfigError:
    return ConfigError(f"cannot write the keys file {path} ({exc.strerror or exc}); run as "
                       "its owner, or point --file (or CHURNLENS_API_KEYS_FILE) elsewhere")


def read_grants(path: Path) -> list[Grant]:
    """Every key of the file, in file order."""
    return grants_in(_lines(path), path)


def add_grant(path: Path, grant: Grant) -> None:
    """Append a key's line; ConfigError if the same key is already in the file."""
    with _locked(path):
        lines = _lines(path)
        known = {g.digest for g in grants_in(lines, path)}
        if grant.digest in known:
            raise ConfigError(f"the key with id {grant.key_id} is already in {path}")
        _write(path, [*lines, format_line(grant)])


def revoke_grant(path: Path, key_id: str, day: dt.date) -> Grant:
    """Mark the key with this id revoked on `day` (kept in the file, refused by servers)."""
    with _locked(path):
        lines = _lines(path)
        found = [(i, grant) for i, line in enumerate(lines) if _is_key(line)
                 for grant in [parse_line(line.strip(), f"line {i + 1} of {path}")]
                 if grant.key_id == key_id.strip().lower()]
        if not found:
            raise ConfigError(f"no key with id {key_id!r} in {path}; `churnlens keys list` "
                              "shows the ids")
        if len(found) > 1:
            raise ConfigError(f"{len(found)} keys of {path} share the id {key_id!r}; "
                              "revoke by editing the file")
        (index, grant), = found
        revoked = grant.revoke(day)
        lines[index] = format_line(revoked)
        _write(path, lines)
        return revoked


def put_labelled(path: Path, prefix: str, grants: list[Grant]) -> None:
    """Make the keys labelled `prefix…` exactly `grants` (the demo's own keys), keeping
    every other key, and a listed key's revocation and expiry when it is already there."""
    with _locked(path):
        lines = _lines(path)
        known = {g.digest: g for g in grants_in(lines, path)}
        kept = [line for line in lines if not _is_key(line)
                or not parse_line(line.strip(), str(path)).label.startswith(prefix)]
        _write(path, [format_line(known.get(g.digest, g)) for g in grants] + kept)


def grants_in(lines: list[str], path: Path) -> list[Grant]:
    """The grants of a keys file's lines; blank lines and `#` comments are skipped."""
    return [parse_line(line.strip(), f"line {n} of {path}")
            for n, line in enumerate(lines, start=1) if _is_key(line)]
