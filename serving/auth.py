"""API keys with roles: who may call what, checked in constant time.

Keys come from the settings, from either or both of

- `CHURNLENS_API_KEYS="role:key,role:key"` (plain keys, handy for a demo or a secret store);
- `CHURNLENS_API_KEYS_FILE`, a file of hashed keys, one per line, each with what it grants:
  a label, the CSM book it sees, an expiry day, a revocation (`serving.access.grants`;
  `churnlens keys new|revoke` edit it, and a serving ring follows its edits).

Both are reduced at once to Grants (role, SHA-256 digest, ...) in a `KeyRing`; the plain
key is never kept, logged or echoed in an error. A client sends `Authorization: Bearer KEY`.

Roles: `scorer` may score (POST /v1/score), `viewer` may read accounts and the model, and
`admin` may do everything, including POST /v1/admin/reload (see `permits`). A viewer key
with a book sees only the accounts whose `csm_owner` is in it (`Principal.sees`); admins
see every account. An expired or revoked key is refused with 401, saying which.

With no keys configured the API still starts (liveness and metrics need no key), but every
protected request gets 401 with a message saying how to configure keys; `KeyRing.from_settings`
logs a warning when the ring is empty.

The API uses `require(role)` as a dependency and keeps the ring on `app.state.keyring`:

    app.state.keyring = KeyRing.from_settings(get_settings())   # in the lifespan
    @app.get("/v1/model")
    def model(who: Annotated[Principal, Depends(require(Role.viewer))]) -> ...

Code outside FastAPI (the CSM page's sign-in) calls `authenticate(ring, key, {Role.viewer})`,
which raises `NotAuthenticatedError` (401) or `PermissionDeniedError` (403).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from features.atomic import file_stamp
from features.errors import ChurnlensError, ConfigError
from features.settings import Settings
from serving.access.grants import (
    Grant,
    Role,
    format_line,
    key_id,
    parse_role,
    valid_roles,
)
from serving.access.keys_file import grants_in

logger = logging.getLogger(__name__)

KEY_PREFIX = "cl_"
MIN_KEY_LENGTH = 16
ENV_NAME = "CHURNLENS_API_KEYS"
FILE_ENV_NAME = "CHURNLENS_API_KEYS_FILE"
REFRESH_SECONDS = 1.0  # how often a served keys file is checked for edits
_HOW_TO_CONFIGURE = (
    f'set {ENV_NAME}="role:key,…" or {FILE_ENV_NAME} to a file of "role:sha256-hex" lines '
    "(`churnlens keys new` makes a key)"
)


def permits(role: Role, needed: Role) -> bool:
    """Whether a key with `role` may do what needs `needed`: admin may do everything."""
    return role is Role.admin or role is needed


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def _check_key(key: str, where: str) -> None:
    if len(key) < MIN_KEY_LENGTH:
        raise ConfigError(
            f"{where} has a key shorter than {MIN_KEY_LENGTH} characters; "
            "make a strong one with `churnlens keys new`"
        )


def presented_key_id(key: str) -> str:
    """The id a presented key would have: safe to log even when the key is unknown."""
    return key_id(_digest(key))


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@dataclass(frozen=True)
class Principal:
    """Who made a request: the key's role, an id that is safe to log (not the key), its
    label, and the csm_owner values it may see (None: every account)."""

    role: Role
    key_id: str
    label: str = ""
    book: frozenset[str] | None = None

    def sees(self, csm_owner: str) -> bool:
        return self.role is Role.admin or self.book is None or csm_owner in self.book

    @property
    def scope(self) -> frozenset[str] | None:
        """The owners a listing is limited to; None when this principal sees everything."""
        return None if self.role is Role.admin else self.book

    @classmethod
    def of(cls, grant: Grant) -> Principal:
        return cls(grant.role, grant.key_id, grant.label, grant.book)


class KeyRing:
    """The configured keys as Grants (role, SHA-256 digest, book, expiry); plain keys are
    never kept. A ring read from a keys file follows the file's edits (`refreshed`)."""

    def __init__(self, entries: Iterable[Grant] = (), *, watched: Settings | None = None,
                 stamp: tuple[int, int, int] | None = None) -> None:
        grants: dict[bytes, Grant] = {}
        for grant in entries:
            if len(grant.digest) != hashlib.sha256().digest_size:
                raise ValueError("KeyRing entries hold SHA-256 digests (32 bytes)")
            seen = grants.setdefault(grant.digest, grant)
            if seen.role is not grant.role:
                raise ConfigError(
                    f"the key with id {grant.key_id} is listed as both {seen.role} and "
                    f"{grant.role}; give each key one role"
                )
        self._entries = tuple(grants.values())
        self._watched = watched
        self._stamp = stamp  # of the keys file as it was before it was read
        self._checked = time.monotonic()

    @classmethod
    def from_keys(cls, text: str, source: str = ENV_NAME) -> KeyRing:
        """Parse "role:key,role:key"; empty entries (a trailing comma) are skipped."""
        entries = []
        for number, raw in enumerate(text.split(","), start=1):
            entry = raw.strip()
            if not entry:
                continue
            where = f"entry {number} of {source}"
            role_text, colon, key = entry.partition(":")
            if not colon:
                raise ConfigError(f"{where} has no role: use role:key (roles: {valid_roles()})")
            role = parse_role(role_text.strip(), where)
            key = key.strip()
            _check_key(key, where)
            entries.append(Grant(role, _digest(key)))
        return cls(entries)

    @classmethod
    def from_file(cls, path: Path) -> KeyRing:
        """Read a keys file (`serving.access.grants`); blank lines and `#` comments skip."""
        return cls(read_keys_file(path))

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        """Every key from `api_keys` and `api_keys_file` (both may be set; duplicates merge).

        A key in both is the file's: its book, expiry and revocation hold, since the plain
        setting carries none. With a keys file, the ring re-reads it when it changes, so a
        key made or revoked with `churnlens keys` takes effect within a second, without a
        restart. The file's stamp is taken before it is read: an edit landing while it is
        read shows as a change at the next check, never as no change.
        """
        entries: list[Grant] = []
        stamp = _file_stamp(settings)
        if settings.api_keys_file is not None:
            entries += read_keys_file(settings.api_keys_file)
        if settings.api_keys is not None:
            entries += cls.from_keys(settings.api_keys.get_secret_value())._entries
        ring = cls(entries, watched=settings if settings.api_keys_file else None, stamp=stamp)
        if not ring:
            logger.warning("no API keys configured: every protected request will get 401; %s",
                           _HOW_TO_CONFIGURE)
        return ring

    def refreshed(self) -> KeyRing:
        """This ring, or a new one if its keys file changed since it was read.

        A file that no longer reads (a bad edit) keeps the old keys serving and logs why.
        """
        if self._watched is None or time.monotonic() - self._checked < REFRESH_SECONDS:
            return self
        self._checked = time.monotonic()
        stamp = _file_stamp(self._watched)
        if stamp == self._stamp:
            return self
        try:
            fresh = KeyRing.from_settings(self._watched)
        except ConfigError as exc:
            logger.error("the keys file changed but cannot be read, so the keys read before "
                         "keep working: %s", exc.message)
            self._stamp = stamp
            return self
        logger.info("keys file re-read: %d keys", len(fresh))
        return fresh

    def grant_of(self, key: str) -> Grant | None:
        """The grant of `key`, or None; compares against every entry whichever matches."""
        presented = _digest(key)
        found: Grant | None = None
        for entry in self._entries:
            if hmac.compare_digest(entry.digest, presented):
                found = entry
        return found

    def role_of(self, key: str) -> Role | None:
        grant = self.grant_of(key)
        return grant.role if grant is not None else None

    def usable(self, key_id: str) -> Grant | None:
        """The grant with this id if it still works today (not expired or revoked)."""
        today = _today()
        return next((g for g in self._entries if g.key_id == key_id and g.usable_on(today)),
                    None)

    @property
    def key_ids(self) -> list[tuple[Role, str]]:
        """(role, key id) of every key, safe to show or log."""
        return [(e.role, e.key_id) for e in self._entries]

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        counts = {r.value: sum(e.role is r for e in self._entries) for r in Role}
        return "KeyRing(" + ", ".join(f"{r}={n}" for r, n in counts.items() if n) + ")"


def _file_stamp(settings: Settings | None) -> tuple[int, int, int] | None:
    """The keys file's stamp (`file_stamp`); every edit by `churnlens keys` replaces it."""
    if settings is None or settings.api_keys_file is None:
        return None
    return file_stamp(settings.api_keys_file)


def read_keys_file(path: Path) -> list[Grant]:
    """The grants of a keys file; ConfigError naming the line and what to fix."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{FILE_ENV_NAME} points to {path}, which does not exist; create it with "
            "`churnlens keys new` or unset the variable"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(
            exc).__name__
        raise ConfigError(
            f"cannot read the API keys file {path} ({reason}); check that it is a readable "
            'UTF-8 text file of "role:sha256-hex" lines'
        ) from None
    return grants_in(text.splitlines(), path)


def new_key() -> str:
    """A fresh random key (256 bits), prefixed so it is recognisable in a secret scanner."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def grant_for(role: Role | str, key: str, **details: Any) -> Grant:
    """The Grant of a plain key (checked for length), for a keys-file line."""
    checked = parse_role(str(role), "the role")
    _check_key(key, "the key")
    return Grant(checked, _digest(key), **details)


def hash_line(role: Role | str, key: str) -> str:
    """The "role:sha256-hex" line for the keys file."""
    return format_line(grant_for(role, key))


class NotAuthenticatedError(ChurnlensError):
    """No key, a malformed header, or a key this server does not know."""

    http_status = 401


class KeyNoLongerValidError(NotAuthenticatedError):
    """A known key past its expiry day, or revoked."""


class PermissionDeniedError(ChurnlensError):
    """A known key whose role may not do what was asked."""

    http_status = 403


def _needs(allowed: Collection[Role]) -> str:
    names = [r.value for r in Role if r in allowed]
    return " or ".join(names)


def authenticate(ring: KeyRing, key: str | None, allowed: Collection[Role]) -> Principal:
    """The principal behind `key` if its role permits one of `allowed`; raises otherwise.

    For sign-in outside FastAPI, e.g. the CSM page: `authenticate(ring, key, {Role.viewer})`
    admits viewer and admin keys and refuses scorer keys with `PermissionDeniedError`.
    """
    if not allowed:
        raise ValueError("authenticate needs at least one role to allow")
    if not ring:
        raise NotAuthenticatedError(
            f"no API keys are configured on this server; {_HOW_TO_CONFIGURE}"
        )
    if not key:
        raise NotAuthenticatedError("no API key: send Authorization: Bearer <key>")
    grant = ring.grant_of(key)
    if grant is None:
        logger.info("refused an unknown API key (id %s)", presented_key_id(key))
        raise NotAuthenticatedError(
            "unknown API key: send Authorization: Bearer <key> with a key configured on this "
            "server"
        )
    presented_id, role = grant.key_id, grant.role
    refusal = grant.refusal(_today())
    if refusal is not None:
        logger.info("refused API key %s: expired or revoked", presented_id)
        raise KeyNoLongerValidError(refusal)
    if not any(permits(role, needed) for needed in allowed):
        logger.info("refused API key %s: role %s, needs %s", presented_id, role, _needs(allowed))
        raise PermissionDeniedError(
            f"this endpoint needs the {_needs(allowed)} role; your key has {role}. "
            f"Use a key with the {_needs(allowed)} role (admin keys may do everything)"
        )
    return Principal.of(grant)


def current_ring(state: Any) -> KeyRing:
    """The app's key ring (`state.keyring`), re-read first if its keys file changed."""
    ring = getattr(state, "keyring", None)
    if not isinstance(ring, KeyRing):
        raise RuntimeError("app.state.keyring is not set; build it with "
                           "KeyRing.from_settings in the app's lifespan")
    fresh = ring.refreshed()
    if fresh is not ring:
        state.keyring = fresh
    return fresh


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="APIKey",
    description="An API key: Authorization: Bearer <key>. Roles: scorer, viewer, admin.",
)


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency admitting keys whose role permits `role`; 401/403 otherwise."""

    # async: a plain def would cost a thread handoff per request; this does no I/O.
    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        ring = current_ring(request.app.state)
        key = credentials.credentials if credentials is not None else None
        try:
            if key is None and ring and "authorization" in request.headers:
                raise NotAuthenticatedError(
                    "malformed Authorization header: send Authorization: Bearer <key>"
                )
            return authenticate(ring, key, {role})
        except NotAuthenticatedError as exc:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, exc.message,
                                headers={"WWW-Authenticate": "Bearer"}) from None
        except PermissionDeniedError as exc:
            raise HTTPException(status.HTTP_403_FORBIDDEN, exc.message) from None

    dependency.__name__ = f"require_{role.value}"
    return dependency
