"""What one API key may do: its role, whose book it sees, until when, and whether revoked.

A keys file holds one key per line, hashed, with what it grants:

    viewer:3f2a…e9 label=nadia csm='Nadia Kowalski' expires=2027-03-04
    viewer:77b0…12 label=emea-team csm='Nadia Kowalski' csm='Omar Haddad'
    admin:c1d4…0a label=ops revoked=2026-12-04
    scorer:9e61…5b

The first field is `role:sha256-hex` (the only field older files have); the rest are
`name=value` pairs, quoted like a shell word when they hold spaces. `csm` may repeat: a
key with one or more is a *book key* that sees only accounts whose `csm_owner` is one of
them; a key with none sees every account. `expires` is the last day the key works (UTC);
`revoked` is the day it was revoked, kept so the audit log can still name the key.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
from dataclasses import dataclass, field, replace
from enum import StrEnum

from features.errors import ConfigError

_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
_ROLE_LIKE = re.compile(r"[a-z_]{1,12}")  # short enough to be a mistyped role, not a key
_FIELDS = ("label", "csm", "expires", "revoked")


class Role(StrEnum):
    """What a key may do: score (apps), read (CSMs), or everything (operators)."""

    scorer = "scorer"
    viewer = "viewer"
    admin = "admin"


def valid_roles() -> str:
    return ", ".join(r.value for r in Role)


def parse_role(text: str, where: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        # Echo the role only when it cannot be a (fragment of a) key that lost its role.
        shown = f" {text!r}" if _ROLE_LIKE.fullmatch(text) else ""
        raise ConfigError(f"{where} has an unknown role{shown}; use one of {valid_roles()}"
                          ) from None


def key_id(digest: bytes) -> str:
    """The first hex digits of a key's digest: enough to name it, useless to guess it."""
    return digest.hex()[:8]


@dataclass(frozen=True)
class Grant:
    """One key: its digest (never the key), role, book, expiry and revocation."""

    role: Role
    digest: bytes
    label: str = ""
    book: frozenset[str] | None = None  # csm_owner values it may see; None: every account
    expires: dt.date | None = None  # the last day it works
    revoked: dt.date | None = None
    csms: tuple[str, ...] = field(default=(), compare=False)  # the book in file order

    @property
    def key_id(self) -> str:
        return key_id(self.digest)

    def usable_on(self, day: dt.date) -> bool:
        return self.revoked is None and (self.expires is None or day <= self.expires)

    def refusal(self, day: dt.date) -> str | None:
        """Why the key no longer works on `day`, or None if it does."""
        if self.revoked is not None:
            return (f"this API key (id {self.key_id}) was revoked on {self.revoked}; ask "
                    "your churnlens operator for a new one")
        if self.expires is not None and day > self.expires:
            return (f"this API key (id {self.key_id}) expired at the end of {self.expires}; "
                    "ask your churnlens operator for a new one")
        return None

    def sees(self, csm_owner: str) -> bool:
        return self.book is None or csm_owner in self.book

    def revoke(self, day: dt.date) -> Grant:
        return replace(self, revoked=self.revoked or day)

    def describe_book(self) -> str:
        return "every account" if not self.csms else "the book of " + ", ".join(self.csms)


def book_of(csms: tuple[str, ...]) -> frozenset[str] | None:
    return frozenset(csms) if csms else None


def parse_line(line: str, where: str) -> Grant:
    """A keys-file line as a Grant; ConfigError saying what to fix when it is not one."""
    try:
        words = shlex.split(line, comments=False, posix=True)
    except ValueError as exc:  # an unclosed quote
        raise ConfigError(f"{where} cannot be read ({exc}); quote values with spaces "
                          "like 'Nadia Kowalski'") from None
    role_text, colon, digest = words[0].partition(":")
    if not colon:
        raise ConfigError(f'{where} is not "role:sha256-hex" (then name=value fields); '
                          "make lines with `churnlens keys new` or `churnlens keys hash`")
    role = parse_role(role_text.strip(), where)
    if not _HEX_DIGEST.fullmatch(digest.strip()):
        raise ConfigError(
            f"{where} does not hold a SHA-256 digest (64 hex digits) after the role; the "
            "file takes hashed keys, never plain ones: make lines with `churnlens keys hash`")
    label, csms, dates = "", [], {}
    for word in words[1:]:
        name, equals, value = word.partition("=")
        if not equals or name not in _FIELDS:
            # Never echo the word: it may be a plain key pasted in by mistake.
            shown = f" {name!r}" if equals and _ROLE_LIKE.fullmatch(name) else ""
            raise ConfigError(f"{where} has an unknown field{shown}; after the hashed key "
                              f"come name=value fields: {', '.join(_FIELDS)}")
        if name == "label":
            label = value
        elif name == "csm":
            if not value:
                raise ConfigError(f"{where} has an empty csm=; name the CSM as the accounts' "
                                  "csm_owner spells it")
            csms.append(value)
        else:
            try:
                dates[name] = dt.date.fromisoformat(value)
            except ValueError:
                raise ConfigError(f"{where} has {name}={value!r}; write the date as "
                                  "YYYY-MM-DD") from None
    ordered = tuple(dict.fromkeys(csms))
    return Grant(role, bytes.fromhex(digest.strip()), label, book_of(ordered),
                 dates.get("expires"), dates.get("revoked"), ordered)


def format_line(grant: Grant) -> str:
    """The keys-file line of a grant (`parse_line` reads it back as the same grant)."""
    for value in (grant.label, *grant.csms):
        if not value.isprintable():  # a line break would split the line in two
            raise ConfigError(f"{value!r} holds a line break or control character; a label "
                              "or CSM name must be one line of printable text")
    words = [f"{grant.role.value}:{grant.digest.hex()}"]
    if grant.label:
        words.append("label=" + shlex.quote(grant.label))
    words += ["csm=" + shlex.quote(csm) for csm in grant.csms]
    if grant.expires is not None:
        words.append(f"expires={grant.expires.isoformat()}")
    if grant.revoked is not None:
        words.append(f"revoked={grant.revoked.isoformat()}")
    return " ".join(words)
