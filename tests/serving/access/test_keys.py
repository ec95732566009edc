"""Keys for people: books, expiry and revocation, in the file, the CLI and a serving ring."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

import serving.auth as auth_module
from features.errors import ConfigError
from serving.access.grants import Grant, Role, format_line, parse_line
from serving.access.keys_file import add_grant, read_grants, revoke_grant
from serving.auth import (
    KeyNoLongerValidError,
    KeyRing,
    Principal,
    authenticate,
    grant_for,
    require,
)
from serving.web.session import SessionSigner

KEY = "viewer-key-for-nadia-0123456789"
TODAY = dt.datetime.now(dt.UTC).date()


def _new_key(run_cli, *args: str) -> tuple[str, str]:
    result = run_cli("keys", "new", *args)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    return lines[0].removeprefix("key:").strip(), lines[1].split()[1]


def test_a_line_reads_back_as_the_grant_it_was_written_from():
    grant = grant_for(Role.viewer, KEY, label="emea team's key", book=frozenset(
        {"Nadia Kowalski", "O'Hara, Sean"}), expires=dt.date(2027, 3, 4),
        csms=("Nadia Kowalski", "O'Hara, Sean"))
    line = format_line(grant)
    assert KEY not in line and hashlib.sha256(KEY.encode()).hexdigest() in line
    again = parse_line(line, "line 1")
    assert again == grant and again.csms == grant.csms
    revoked = parse_line(format_line(grant.revoke(TODAY)), "line 1")
    assert revoked.revoked == TODAY and not revoked.usable_on(TODAY)


def test_an_old_line_is_a_key_of_every_account_that_never_expires():
    grant = parse_line("admin:" + "ab" * 32, "line 1")
    assert grant == Grant(Role.admin, bytes.fromhex("ab" * 32))
    assert grant.book is None and grant.usable_on(dt.date(2999, 1, 1))


@pytest.mark.parametrize(("line", "message"), [
    ("viewer:" + "ab" * 32 + " cl_SECRETKEYPASTEDHERE", "unknown field; after the hashed"),
    ("viewer:" + "ab" * 32 + " team=emea", "unknown field 'team'"),
    ("viewer:" + "ab" * 32 + " expires=next-week", "expires='next-week'; write the date"),
    ("viewer:" + "ab" * 32 + " csm='Nadia", "cannot be read"),
    ("viewer:" + "ab" * 32 + " csm=", "empty csm="),
])
def test_a_bad_field_is_named_without_echoing_a_secret(line, message):
    with pytest.raises(ConfigError, match=message) as caught:
        parse_line(line, "line 3 of keys.txt")
    assert "SECRET" not in caught.value.message and "line 3 of keys.txt" in caught.value.message


def test_keys_new_list_and_revoke_through_the_cli(run_cli, isolated_settings):
    path = isolated_settings.home / "api-keys.txt"
    key, key_id = _new_key(run_cli, "viewer", "--csm", "Nadia Kowalski", "--label", "nadia")
    app_key, _ = _new_key(run_cli, "scorer", "--label", "billing app")
    assert key not in path.read_text() and app_key not in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    nadia, app = read_grants(path)
    assert nadia.key_id == key_id and nadia.book == frozenset({"Nadia Kowalski"})
    assert nadia.expires == TODAY + dt.timedelta(days=90)  # a person's key expires
    assert app.book is None and app.expires is None  # an app's key does not
    ring = KeyRing.from_file(path)
    assert authenticate(ring, key, {Role.viewer}).book == frozenset({"Nadia Kowalski"})

    listed = run_cli("keys", "list")
    assert listed.code == 0 and f"{key_id}  viewer  active" in listed.out
    assert "Nadia Kowalski" in listed.out and "(all accounts)" in listed.out

    revoked = run_cli("keys", "revoke", key_id)
    assert revoked.code == 0, revoked.err
    assert f"{key_id}  viewer  revoked" in run_cli("keys", "list").out
    with pytest.raises(KeyNoLongerValidError, match=f"{key_id}.*revoked on {TODAY}"):
        authenticate(KeyRing.from_file(path), key, {Role.viewer})
    assert run_cli("keys", "revoke", "00000000").code != 0


@pytest.mark.parametrize(("args", "message"), [
    (("scorer", "--csm", "Nadia"), "a scorer key cannot have a book"),
    (("viewer", "--expires", "2020-01-01"), "in the past"),
    (("viewer", "--expires", "soon"), "not a day"),
    (("viewer", "--csm", " "), "--csm needs a name"),
])
def test_keys_new_refuses_what_cannot_work(run_cli, isolated_settings, args, message):
    result = run_cli("keys", "new", *args)
    assert result.code != 0 and message in result.err
    assert not (isolated_settings.home / "api-keys.txt").exists()


def test_keys_demo_keeps_the_keys_made_beside_it(run_cli, isolated_settings):
    _, key_id = _new_key(run_cli, "viewer", "--csm", "Nadia Kowalski")
    assert run_cli("keys", "demo").code == 0
    assert run_cli("keys", "demo").code == 0
    grants = read_grants(isolated_settings.home / "api-keys.txt")
    assert [g.key_id for g in grants].count(key_id) == 1 and len(grants) == 4


def test_an_expired_key_is_refused_saying_so():
    ring = KeyRing([grant_for(Role.viewer, KEY, expires=TODAY - dt.timedelta(days=1))])
    with pytest.raises(KeyNoLongerValidError, match="expired at the end of"):
        authenticate(ring, KEY, {Role.viewer})
    last_day = KeyRing([grant_for(Role.viewer, KEY, expires=TODAY)])
    assert authenticate(last_day, KEY, {Role.viewer}).role is Role.viewer


def test_a_page_session_ends_when_its_key_is_revoked():
    grant = grant_for(Role.viewer, KEY, book=frozenset({"Nadia"}), csms=("Nadia",))
    signer = SessionSigner()
    token = signer.issue(authenticate(KeyRing([grant]), KEY, {Role.viewer}))
    session = signer.read(token, KeyRing([grant]))
    assert session is not None and session.book == frozenset({"Nadia"})
    assert signer.read(token, KeyRing([grant.revoke(TODAY)])) is None


def test_a_serving_ring_follows_the_keys_file(run_cli, isolated_settings, monkeypatch):
    monkeypatch.setattr(auth_module, "REFRESH_SECONDS", 0.0)
    path = isolated_settings.home / "api-keys.txt"
    first = grant_for(Role.viewer, "first-viewer-key-0123456789")
    add_grant(path, first)
    settings = isolated_settings.model_copy(update={"api_keys_file": path})
    app = FastAPI()

    @app.get("/who")
    def who(principal: Annotated[Principal, Depends(require(Role.viewer))]
            ) -> dict[str, str]:
        return {"key_id": principal.key_id}

    app.state.keyring = KeyRing.from_settings(settings)
    client = TestClient(app)
    key, key_id = _new_key(run_cli, "viewer", "--csm", "Nadia")
    seen = client.get("/who", headers={"Authorization": f"Bearer {key}"})
    assert seen.status_code == 200 and seen.json() == {"key_id": key_id}

    path.write_text(path.read_text() + "not a key line\n")  # a bad edit keeps the old keys
    assert client.get("/who", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    path.write_text("\n".join(path.read_text().splitlines()[:-1]) + "\n")

    revoke_grant(path, key_id, TODAY)
    refused = client.get("/who", headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]


def test_a_key_in_both_the_setting_and_the_file_is_the_files(tmp_path, isolated_settings):
    path = tmp_path / "keys.txt"
    add_grant(path, grant_for(Role.viewer, KEY, book=frozenset({"Nadia"}), csms=("Nadia",)))
    both = isolated_settings.model_copy(update={
        "api_keys_file": path, "api_keys": SecretStr(f"viewer:{KEY}")})
    assert authenticate(KeyRing.from_settings(both), KEY, {Role.viewer}).book == \
        frozenset({"Nadia"})
    revoke_grant(path, read_grants(path)[0].key_id, TODAY)
    with pytest.raises(KeyNoLongerValidError, match="revoked"):
        authenticate(KeyRing.from_settings(both), KEY, {Role.viewer})


def test_a_label_or_name_with_a_line_break_is_refused(run_cli, isolated_settings):
    with pytest.raises(ConfigError, match="line break"):
        format_line(grant_for(Role.viewer, KEY, label="two\nlines"))
    result = run_cli("keys", "new", "viewer", "--csm", "Nadia\u2028Kowalski")
    assert result.code != 0 and "line break" in result.err
    assert not (isolated_settings.home / "api-keys.txt").exists()


def test_keys_demo_keeps_a_revoked_demo_key_revoked(run_cli, isolated_settings):
    path = isolated_settings.home / "api-keys.txt"
    assert run_cli("keys", "demo").code == 0
    viewer = next(g for g in read_grants(path) if g.role is Role.viewer)
    assert run_cli("keys", "revoke", viewer.key_id).code == 0
    assert run_cli("keys", "demo").code == 0
    again = next(g for g in read_grants(path) if g.key_id == viewer.key_id)
    assert again.revoked == TODAY


def test_an_unwritable_keys_file_is_one_clear_error(run_cli, tmp_path):
    (tmp_path / "not-a-directory").write_text("")
    result = run_cli("keys", "new", "viewer", "--file", tmp_path / "not-a-directory" / "k")
    assert result.code == 2 and "cannot write the keys file" in result.err
    assert "Traceback" not in result.err
