"""API keys with roles: who may call what, checked in constant time.

Keys come from the settings, from either or both of

- `CHURNLENS_API_KEYS="role:key,role:key"` (plain keys, handy for a demo or a secret store);
- `CHURNLENS_API_KEYS_FILE`, a file of `role:sha256-hex` lines (`hash_line` makes them;
  blank lines and `#` comments are skipped).

Both are reduced at once to (role, SHA-256 digest) pairs in a `KeyRing`; the plain key is
never kept, logged or echoed in an error. A client sends `Authorization: Bearer KEY`.

Roles: `scorer` may score (POST /v1/score), `viewer` may read accounts and the model, and
`admin` may do everything, including POST /v1/admin/reload (see `permits`).

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

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NamedTuple

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from features.errors import ChurnlensError, ConfigError
from features.settings import Settings

logger = logging.getLogger(__name__)

KEY_PREFIX = "cl_"
MIN_KEY_LENGTH = 16
ENV_NAME = "CHURNLENS_API_KEYS"
FILE_ENV_NAME = "CHURNLENS_API_KEYS_FILE"
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
_ROLE_LIKE = re.compile(r"[a-z_]{1,12}")  # short enough to be a mistyped role, not a key
_HOW_TO_CONFIGURE = (
    f'set {ENV_NAME}="role:key,…" or {FILE_ENV_NAME} to a file of "role:sha256-hex" lines '
    "(`churnlens keys new` makes a key)"
)


class Role(StrEnum):
    """What a key may do: score (apps), read (CSMs), or everything (operators)."""

    scorer = "scorer"
    viewer = "viewer"
    admin = "admin"


def permits(role: Role, needed: Role) -> bool:
    """Whether a key with `role` may do what needs `needed`: admin may do everything."""
    return role is Role.admin or role is needed


def _valid_roles() -> str:
    return ", ".join(r.value for r in Role)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def _key_id(digest: bytes) -> str:
    return digest.hex()[:8]


def _parse_role(text: str, where: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        # Echo the role only when it cannot be a (fragment of a) key that lost its role.
        shown = f" {text!r}" if _ROLE_LIKE.fullmatch(text) else ""
        raise ConfigError(
            f"{where} has an unknown role{shown}; use one of {_valid_roles()}"
        ) from None


def _check_key(key: str, where: str) -> None:
    if len(key) < MIN_KEY_LENGTH:
        raise ConfigError(
            f"{where} has a key shorter than {MIN_KEY_LENGTH} characters; "
            "make a strong one with `churnlens keys new`"
        )


class _Entry(NamedTuple):
    role: Role
    digest: bytes


@dataclass(frozen=True)
class Principal:
    """Who made a request: the key's role and an id that is safe to log (not the key)."""

    role: Role
    key_id: str


class KeyRing:
    """The configured keys as (role, SHA-256 digest) pairs; plain keys are never kept."""

    def __init__(self, entries: Iterable[tuple[Role, bytes]] = ()) -> None:
        roles: dict[bytes, Role] = {}
        for role, digest in entries:
            if len(digest) != hashlib.sha256().digest_size:
                raise ValueError("KeyRing entries hold SHA-256 digests (32 bytes)")
            seen = roles.setdefault(digest, role)
            if seen is not role:
                raise ConfigError(
                    f"the key with id {_key_id(digest)} is listed as both {seen} and {role}; "
                    "give each key one role"
                )
        self._entries = tuple(_Entry(role, digest) for digest, role in roles.items())

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
                raise ConfigError(f"{where} has no role: use role:key (roles: {_valid_roles()})")
            role = _parse_role(role_text.strip(), where)
            key = key.strip()
            _check_key(key, where)
            entries.append((role, _digest(key)))
        return cls(entries)

    @classmethod
    def from_file(cls, path: Path) -> KeyRing:
        """Read a file of "role:sha256-hex" lines; blank lines and `#` comments are skipped."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(
                f"{FILE_ENV_NAME} points to {path}, which does not exist; create it with "
                "lines from `churnlens keys hash` or unset the variable"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(
                exc).__name__
            raise ConfigError(
                f"cannot read the API keys file {path} ({reason}); check that it is a readable "
                'UTF-8 text file of "role:sha256-hex" lines'
            ) from None
        entries = []
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            where = f"line {number} of {path}"
            role_text, colon, digest = line.partition(":")
            if not colon:
                raise ConfigError(
                    f'{where} is not "role:sha256-hex"; make lines with `churnlens keys hash`'
                )
            role = _parse_role(role_text.strip(), where)
            digest = digest.strip()
            if not _HEX_DIGEST.fullmatch(digest):
                raise ConfigError(
                    f"{where} does not hold a SHA-256 digest (64 hex digits) after the role; "
                    "the file takes hashed keys, never plain ones: make lines with "
                    "`churnlens keys hash`"
                )
            entries.append((role, bytes.fromhex(digest)))
        return cls(entries)

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        """Every key from `api_keys` and `api_keys_file` (both may be set; duplicates merge)."""
        entries: list[tuple[Role, bytes]] = []
        if settings.api_keys is not None:
            entries += cls.from_keys(settings.api_keys.get_secret_value())._entries
        if settings.api_keys_file is not None:
            entries += cls.from_file(settings.api_keys_file)._entries
        ring = cls(entries)
        if not ring:
            logger.warning("no API keys configured: every protected request will get 401; %s",
                           _HOW_TO_CONFIGURE)
        return ring

    def role_of(self, key: str) -> Role | None:
        """The role of `key`, or None; compares against every entry whichever one matches."""
        presented = _digest(key)
        found: Role | None = None
        for entry in self._entries:
            if hmac.compare_digest(entry.digest, presented):
                found = entry.role
        return found

    @property
    def key_ids(self) -> list[tuple[Role, str]]:
        """(role, key id) of every key, safe to show or log."""
        return [(e.role, _key_id(e.digest)) for e in self._entries]

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        counts = {r.value: sum(e.role is r for e in self._entries) for r in Role}
        return "KeyRing(" + ", ".join(f"{r}={n}" for r, n in counts.items() if n) + ")"


def new_key() -> str:
    """A fresh random key (256 bits), prefixed so it is recognisable in a secret scanner."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_line(role: Role | str, key: str) -> str:
    """The "role:sha256-hex" line for the keys file."""
    checked = _parse_role(str(role), "the role")
    _check_key(key, "the key")
    return f"{checked.value}:{_digest(key).hex()}"


class NotAuthenticatedError(ChurnlensError):
    """No key, a malformed header, or a key this server does not know."""

    http_status = 401


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
    role = ring.role_of(key)
    presented_id = _key_id(_digest(key))
    if role is None:
        logger.info("refused an unknown API key (id %s)", presented_id)
        raise NotAuthenticatedError(
            "unknown API key: send Authorization: Bearer <key> with a key configured on this "
            "server"
        )
    if not any(permits(role, needed) for needed in allowed):
        logger.info("refused API key %s: role %s, needs %s", presented_id, role, _needs(allowed))
        raise PermissionDeniedError(
            f"this endpoint needs the {_needs(allowed)} role; your key has {role}. "
            f"Use a key with the {_needs(allowed)} role (admin keys may do everything)"
        )
    return Principal(role=role, key_id=presented_id)


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
        ring = getattr(request.app.state, "keyring", None)
        if not isinstance(ring, KeyRing):
            raise RuntimeError("app.state.keyring is not set; build it with "
                               "KeyRing.from_settings in the app's lifespan")
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
