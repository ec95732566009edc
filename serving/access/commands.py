"""`churnlens keys` and `churnlens audit`: who may read what, and what they did.

Keys live hashed in the keys file (`CHURNLENS_API_KEYS_FILE`, by default
`<home>/api-keys.txt`); a serving process re-reads it within a second of an edit, so a new
or revoked key applies without a restart. Commands parse options and call library
functions; heavy imports stay inside them.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from features.atomic import atomic_write_text

keys_app = typer.Typer(help="Create, list and revoke API keys (hashed in the keys file).",
                       no_args_is_help=True)
audit_app = typer.Typer(help="The audit log: sign-ins, exports, reloads.",
                        no_args_is_help=True)

EXAMPLE_REQUEST = "example-score-request.json"
DEMO_KEYS = "demo-keys.txt"  # plain keys, readable by the owner only
KEYS_FILE = "api-keys.txt"  # hashed keys for CHURNLENS_API_KEYS_FILE
DEMO_LABEL = "demo-"  # labels of the keys `keys demo` owns and may replace
PERSON_DAYS = 90  # a book key (one person's or a team's) expires after this by default


class KeyRole(StrEnum):
    scorer = "scorer"
    viewer = "viewer"
    admin = "admin"


class AuditFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


FileOption = Annotated[Path | None, typer.Option(
    "--file", help="The keys file (default CHURNLENS_API_KEYS_FILE, else "
    "<home>/api-keys.txt).", show_default=False)]


def _keys_file(given: Path | None) -> Path:
    from features.settings import get_settings

    settings = get_settings()
    return given or settings.api_keys_file or settings.home / KEYS_FILE


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@keys_app.command("new")
def keys_new(
    role: Annotated[KeyRole, typer.Argument(help="The key's role.")],
    csm: Annotated[list[str] | None, typer.Option(
        help="Limit the key to this CSM's accounts (as csm_owner spells the name); repeat "
             "for a team's book. Without it the key sees every account.",
        show_default=False)] = None,
    label: Annotated[str, typer.Option(help="Who or what the key is for, as the audit log "
                                       "and `keys list` show it.")] = "",
    expires: Annotated[str | None, typer.Option(
        help="The last day the key works, YYYY-MM-DD (default: 90 days on for a --csm "
             "key, never for others).", show_default=False)] = None,
    file: FileOption = None,
) -> None:
    """Make a key, add its hashed line to the keys file and print the key once."""
    from features.errors import ConfigError
    from serving.access.keys_file import add_grant
    from serving.auth import grant_for, new_key

    book = tuple(dict.fromkeys(c.strip() for c in csm or ()))
    if any(not name for name in book):
        raise ConfigError("--csm needs a name, as the accounts' csm_owner spells it")
    if role is not KeyRole.viewer and book:
        raise ConfigError(f"a {role} key cannot have a book: only viewer keys are limited "
                          "to CSMs' accounts (admins see all; scorers read no accounts)")
    until = _day(expires, "--expires") if expires else (
        _today() + dt.timedelta(days=PERSON_DAYS) if book else None)
    if until is not None and until < _today():
        raise ConfigError(f"--expires {until} is in the past; give a later day")
    key = new_key()
    grant = grant_for(role.value, key, label=label, book=frozenset(book) or None,
                      expires=until, csms=book)
    path = _keys_file(file)
    add_grant(path, grant)
    typer.echo(f"key:  {key}")
    typer.echo(f"id:   {grant.key_id} ({role}, {grant.describe_book()}"
               f"{f', until {until}' if until else ''}), added to {path}")
    typer.echo("Give the key to its holder now: it is not stored and cannot be shown again.")


@keys_app.command("list")
def keys_list(file: FileOption = None) -> None:
    """Every key of the keys file: id, role, label, book, expiry and state."""
    from serving.access.keys_file import read_grants

    path = _keys_file(file)
    today = _today()
    typer.echo(f"{'id':<9} {'role':<7} {'state':<8} {'expires':<11} {'label':<16} book")
    for grant in read_grants(path):
        state = ("revoked" if grant.revoked else
                 "expired" if not grant.usable_on(today) else "active")
        typer.echo(f"{grant.key_id:<9} {grant.role.value:<7} {state:<8} "
                   f"{grant.expires or '-'!s:<11} {grant.label or '-':<16} "
                   f"{', '.join(grant.csms) or '(all accounts)'}")


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (`keys list`).")],
                file: FileOption = None) -> None:
    """Revoke a key: servers refuse it within a second; its line stays for the audit."""
    from serving.access.keys_file import revoke_grant

    path = _keys_file(file)
    grant = revoke_grant(path, key_id, _today())
    typer.echo(f"revoked key {grant.key_id} ({grant.role}, {grant.label or 'no label'}) "
               f"in {path} on {grant.revoked}")


@keys_app.command("hash")
def keys_hash(role: Annotated[KeyRole, typer.Argument(help="The key's role.")],
              key: Annotated[str, typer.Option(prompt=True, hide_input=True,
                                               help="The key (asked for when omitted).")]
              ) -> None:
    """Print the keys-file line for an existing key (the key itself is never stored)."""
    from serving.auth import hash_line

    typer.echo(hash_line(role.value, key))


@keys_app.command("demo")
def keys_demo(
    port: Annotated[int | None, typer.Option(help="Port the curl examples use (default "
                                             "CHURNLENS_PORT or 8000).",
                                             show_default=False)] = None,
) -> None:
    """Create (once) a key per role for the demo workspace and print them with curl lines.

    Plain keys go to <home>/demo-keys.txt (owner-only), hashed ones to <home>/api-keys.txt
    for CHURNLENS_API_KEYS_FILE, beside any keys made there with `keys new`. Not for
    production: make keys with `keys new`.
    """
    from features.settings import get_settings
    from serving.access.keys_file import put_labelled
    from serving.auth import grant_for, new_key

    settings = get_settings()
    plain_file, hashed_file = settings.home / DEMO_KEYS, settings.home / KEYS_FILE
    keys: dict[str, str] = {}
    if plain_file.is_file():
        for line in plain_file.read_text().splitlines():
            role, _, key = line.partition(":")
            if role and key:
                keys[role] = key
    if set(keys) != {r.value for r in KeyRole}:
        keys = {r.value: new_key() for r in KeyRole}
        atomic_write_text(plain_file, "".join(f"{r}:{k}\n" for r, k in keys.items()), 0o600)
    put_labelled(hashed_file, DEMO_LABEL,
                 [grant_for(r, k, label=DEMO_LABEL + r) for r, k in keys.items()])
    base = f"http://{settings.host}:{port or settings.port}"
    example = settings.home / EXAMPLE_REQUEST
    typer.echo(f"Demo API keys (also in {plain_file}):")
    for role, key in keys.items():
        typer.echo(f"  {role:<7} {key}")
    typer.echo(f"\nCSM risk page: {base}/ (sign in with the viewer key)")
    typer.echo(f"API docs: {base}/docs")
    typer.echo("Try:")
    typer.echo(f"  curl -s -H 'Authorization: Bearer {keys['viewer']}' "
               f"'{base}/v1/accounts?per_page=5&sort=arr_at_risk'")
    typer.echo(f"  curl -s -H 'Authorization: Bearer {keys['viewer']}' {base}/v1/model")
    if example.is_file():
        typer.echo(f"  curl -s -H 'Authorization: Bearer {keys['scorer']}' "
                   f"-H 'Content-Type: application/json' -d @{example} {base}/v1/score")
    typer.echo(f"  curl -s -X POST -H 'Authorization: Bearer {keys['admin']}' "
               f"{base}/v1/admin/reload")
    typer.echo(f"Serve with: CHURNLENS_API_KEYS_FILE={hashed_file} churnlens serve")


@audit_app.command("export")
def audit_export(
    since: Annotated[str | None, typer.Option(help="From this day, YYYY-MM-DD (UTC).",
                                              show_default=False)] = None,
    until: Annotated[str | None, typer.Option(help="Up to and including this day.",
                                              show_default=False)] = None,
    output_format: Annotated[AuditFormat, typer.Option("--format")] = AuditFormat.csv,
    out: Annotated[Path | None, typer.Option(help="Write here (default: standard "
                                             "output).", show_default=False)] = None,
) -> None:
    """Export the audit log (who did what, when), oldest first."""
    from features.settings import get_settings
    from serving.store.audit import AuditLog, render
    from serving.store.score_store import ScoreStore

    first = _day(since, "--since") if since else None
    last = _day(until, "--until") if until else None
    with ScoreStore(get_settings().score_store) as store:
        events = AuditLog(store).events(since=first, until=last)
    text = render(events, output_format.value)
    if out is None:
        typer.echo(text, nl=False)
    else:
        atomic_write_text(out, text)
        typer.echo(f"wrote {len(events)} audit events to {out}", err=True)


def _day(text: str, option: str) -> dt.date:
    from features.errors import ConfigError

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option} {text!r} is not a day; write it as YYYY-MM-DD") from None


def register(app: typer.Typer) -> None:
    """Add `keys` and `audit` to the `churnlens` app."""
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")
