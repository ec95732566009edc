"""CSRF protection of the page's POST forms (sign-in, sign-out): a double-submit token.

Every page carries a random token twice: in a cookie (`churnlens_csrf`, HttpOnly,
SameSite=Strict) and in a hidden field of each form. A POST must bring both, equal; a
request forged by another site can make the browser send the cookie (at most) but cannot
read it to fill the field, and cannot set it, so it fails. A POST whose `Origin` names
another site is refused too. The token is not tied to the session, so the sign-in form
(before any session) is covered as well: another site cannot sign a person in under a
key of its own choosing.

SameSite=Lax on the session cookie already keeps cross-site POSTs out; this is the
second lock, and the one that holds in browsers or set-ups where SameSite does not.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request, Response

CSRF_COOKIE = "churnlens_csrf"
CSRF_FIELD = "csrf"
_STATE = "csrf_token"


def token(request: Request) -> str:
    """The request's token: its cookie's, or a new one that `remember` will set."""
    known = getattr(request.state, _STATE, None)
    if known is None:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        known = cookie if 20 <= len(cookie) <= 100 else secrets.token_urlsafe(32)
        setattr(request.state, _STATE, known)
    return str(known)


def remember(request: Request, response: Response) -> None:
    """Set the token's cookie on a page response when the browser does not hold it yet."""
    value = getattr(request.state, _STATE, None)
    if value is not None and value != request.cookies.get(CSRF_COOKIE):
        response.set_cookie(CSRF_COOKIE, value, path="/", httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")


def is_genuine(request: Request, submitted: str) -> bool:
    """Whether a POST comes from this site's own form: same origin, tokens present and
    equal (compared in constant time)."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.url.netloc:
        return False
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(cookie) and bool(submitted) and hmac.compare_digest(
        cookie.encode(), submitted.encode())
