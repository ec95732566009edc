"""Sessions of the CSM page: a viewer or admin key exchanged once for a signed cookie.

The person types the key into a POST form; `authenticate` checks it against the key ring
and the browser gets back a cookie holding only the key's role and its id (the first hex
digits of its SHA-256 digest, safe to log), signed and timestamped with itsdangerous.
The key itself is never stored, logged, echoed or put in a URL.

The cookie is HttpOnly (no script reads it), SameSite=Lax, Secure when the page is served
over HTTPS, and lasts `SESSION_SECONDS`; the signature's timestamp enforces the same
expiry on the server, whatever the browser keeps. A session also ends when its key leaves
the key ring, expires or is revoked, and at sign-out: signed-out cookies are refused until
they would have expired anyway.

CSRF: the only state-changing requests are the sign-in and sign-out POSTs; every other
page is a read-only GET. A SameSite=Lax cookie is not sent on cross-site POSTs, and both
forms also carry a double-submit token (`serving.web.csrf`).

The signing secret is the `session_secret` setting. `churnlens serve` draws a random one
per start when it is unset and hands it to every worker, so a cookie signed by one
worker is good on all of them; sessions then end when the server restarts. A signer
built without a secret (tests, one-off apps) draws its own.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from serving.auth import KeyRing, Principal, Role

SESSION_COOKIE = "churnlens_session"
SESSION_SECONDS = 8 * 60 * 60
_SALT = "churnlens.web.session"
_PAGE_ROLES = frozenset({Role.viewer, Role.admin})


@dataclass(frozen=True)
class WebSession:
    """Who is signed in: the key's role, id (never the key), label and book, read from the
    key ring on every request so a changed book or a revoked key applies at once."""

    role: Role
    key_id: str
    label: str = ""
    book: frozenset[str] | None = None

    @property
    def principal(self) -> Principal:
        return Principal(self.role, self.key_id, self.label, self.book)


class SignInRequired(Exception):
    """Raised by a page without a valid session; answered with a redirect to sign-in."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class SessionSigner:
    """Signs and checks session cookies; the secret is random unless one is given."""

    def __init__(self, secret: bytes | None = None, max_age: int = SESSION_SECONDS) -> None:
        self._serializer = URLSafeTimedSerializer(secret or secrets.token_bytes(32),
                                                  salt=_SALT)
        self.max_age = max_age
        self._ended: dict[str, float] = {}  # signed-out cookie → when it would expire

    def issue(self, principal: Principal) -> str:
        """A cookie value for a principal that may read the page."""
        if principal.role not in _PAGE_ROLES:
            raise ValueError(f"a {principal.role} key cannot open a page session")
        return self._serializer.dumps({"role": principal.role.value,
                                       "key_id": principal.key_id})

    def read(self, token: str | None, ring: KeyRing) -> WebSession | None:
        """The session in a cookie value, or None if it is missing, tampered with, expired,
        signed out, or its key is no longer in `ring` with a role that may read the page."""
        if not token or token in self._ended:
            return None
        try:
            data = self._serializer.loads(token, max_age=self.max_age)
        except BadSignature:  # includes SignatureExpired
            return None
        if not isinstance(data, dict):
            return None
        role, key_id = data.get("role"), data.get("key_id")
        if role not in {r.value for r in _PAGE_ROLES} or not isinstance(key_id, str):
            return None
        grant = ring.usable(key_id)
        if grant is None or grant.role.value != role:
            return None
        return WebSession(grant.role, grant.key_id, grant.label, grant.book)

    def end(self, token: str | None) -> None:
        """Refuse this cookie from now on (sign-out), remembering it only until it expires."""
        now = time.time()
        self._ended = {t: until for t, until in self._ended.items() if until > now}
        if token:
            self._ended[token] = now + self.max_age


def set_session_cookie(response: Response, request: Request, token: str,
                       max_age: int = SESSION_SECONDS) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, path="/", httponly=True,
                        samesite="lax", secure=request.url.scheme == "https")


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=request.url.scheme == "https")


def safe_next(path: str | None, default: str = "/") -> str:
    """`path` if it is a path on this site (so sign-in cannot redirect elsewhere)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    parts = urlsplit(path)
    if parts.scheme or parts.netloc:
        return default
    return path
