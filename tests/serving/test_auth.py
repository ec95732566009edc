"""API keys: parsing settings and key files, constant-time lookup, and the role matrix over HTTP.

httpx (which FastAPI's TestClient needs) is not in requirements.lock, so the HTTP tests drive
the ASGI app directly with `_call`; with httpx in the lock they can move to TestClient.
"""

# No `from __future__ import annotations`: the endpoints built in a loop below need their
# `Depends(require(role))` annotations evaluated while `role` is in scope.

import hashlib
import json
import logging
from pathlib import Path
from typing import Annotated, Any

import anyio
import pytest
from fastapi import Depends, FastAPI
from pydantic import SecretStr

from features.errors import ConfigError
from features.settings import Settings
from serving.auth import (
    KeyRing,
    NotAuthenticatedError,
    PermissionDeniedError,
    Principal,
    Role,
    authenticate,
    hash_line,
    new_key,
    permits,
    require,
)

KEYS = {role: f"{role.value}-key-0123456789abcdef" for role in Role}
ENV = ",".join(f"{role}:{key}" for role, key in KEYS.items())


def _settings(tmp_path: Path, **changes: Any) -> Settings:
    return Settings(home=tmp_path / "workspace", **changes)


# --- roles -------------------------------------------------------------------------------

def test_admin_permits_everything_and_others_only_themselves():
    for needed in Role:
        assert permits(Role.admin, needed)
    assert permits(Role.viewer, Role.viewer) and permits(Role.scorer, Role.scorer)
    assert not permits(Role.viewer, Role.scorer) and not permits(Role.viewer, Role.admin)
    assert not permits(Role.scorer, Role.viewer) and not permits(Role.scorer, Role.admin)


# --- parsing -----------------------------------------------------------------------------

def test_keys_from_the_environment_setting(tmp_path):
    ring = KeyRing.from_settings(_settings(tmp_path, api_keys=SecretStr(ENV + ",")))
    assert len(ring) == 3
    for role, key in KEYS.items():
        assert ring.role_of(key) is role
    assert ring.role_of("not-a-configured-key-at-all") is None
    assert ring.role_of("") is None


def test_keys_file_and_environment_are_merged(tmp_path):
    extra = new_key()
    path = tmp_path / "keys.txt"
    path.write_text(f"# operators\n\n{hash_line(Role.admin, KEYS[Role.admin])}\n"
                    f"  {hash_line('viewer', extra).upper().replace('VIEWER', 'viewer')}  \n")
    ring = KeyRing.from_settings(_settings(tmp_path, api_keys=SecretStr(ENV),
                                           api_keys_file=path))
    assert len(ring) == 4  # the admin key is in both sources and counted once
    assert ring.role_of(KEYS[Role.admin]) is Role.admin
    assert ring.role_of(extra) is Role.viewer


def test_only_a_keys_file(tmp_path):
    key = new_key()
    path = tmp_path / "keys.txt"
    path.write_text(hash_line(Role.scorer, key) + "\n")
    ring = KeyRing.from_settings(_settings(tmp_path, api_keys_file=path))
    assert ring.role_of(key) is Role.scorer
    assert ring.key_ids == [(Role.scorer, hashlib.sha256(key.encode()).hexdigest()[:8])]


@pytest.mark.parametrize(("value", "message"), [
    (f"admin:{KEYS[Role.admin]},justakeywithoutrole1234", "entry 2 of CHURNLENS_API_KEYS has no "
                                                           "role: use role:key"),
    ("veiwer:abcdefghijklmnopqrstuvwxyz", "unknown role 'veiwer'; use one of scorer, viewer, "
                                          "admin"),
    ("viewer:short-secret", "shorter than 16 characters; .*`churnlens keys new`"),
    ("viewer:", "entry 1 .* shorter than 16"),
])
def test_malformed_environment_entries_are_explained(tmp_path, value, message):
    with pytest.raises(ConfigError, match=message) as caught:
        KeyRing.from_settings(_settings(tmp_path, api_keys=SecretStr(value)))
    secret = value.rpartition(":")[2]
    assert not secret or secret not in str(caught.value)


def test_an_unknown_role_that_may_be_part_of_a_key_is_not_echoed(tmp_path):
    value = "Xy7-part-of-a-key:rest-of-the-key-123456"
    with pytest.raises(ConfigError, match="unknown role; use one of") as caught:
        KeyRing.from_keys(value)
    assert "Xy7" not in str(caught.value)


def test_one_key_with_two_roles_is_refused():
    with pytest.raises(ConfigError, match="listed as both viewer and admin"):
        KeyRing.from_keys(f"viewer:{KEYS[Role.admin]},admin:{KEYS[Role.admin]}")


def test_missing_keys_file(tmp_path):
    with pytest.raises(ConfigError, match=r"CHURNLENS_API_KEYS_FILE points to .*does not exist"):
        KeyRing.from_settings(_settings(tmp_path, api_keys_file=tmp_path / "nope.txt"))


def test_unreadable_keys_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the API keys file"):
        KeyRing.from_file(tmp_path)  # a directory
    binary = tmp_path / "keys.bin"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match=r"cannot read the API keys file .*UTF-8"):
        KeyRing.from_file(binary)


@pytest.mark.parametrize(("line", "message"), [
    ("viewer-only-no-colon-0123456789", 'line 2 of .* is not "role:sha256-hex"'),
    ("viewer:plain-key-instead-of-a-hash-1234", "line 2 of .*SHA-256 digest.*never plain ones"),
    ("viewer:" + "ab" * 31, "line 2 .*64 hex digits"),
    ("boss:" + "ab" * 32, "line 2 .*unknown role 'boss'; use one of scorer, viewer, admin"),
])
def test_bad_line_in_keys_file_names_the_line_not_the_secret(tmp_path, line, message):
    path = tmp_path / "keys.txt"
    path.write_text(f"{hash_line(Role.admin, KEYS[Role.admin])}\n{line}\n")
    with pytest.raises(ConfigError, match=message) as caught:
        KeyRing.from_file(path)
    secret = line.partition(":")[2] or line
    assert secret not in str(caught.value).replace(str(path), "")


def test_no_keys_configured_warns(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="serving.auth"):
        ring = KeyRing.from_settings(_settings(tmp_path))
    assert len(ring) == 0
    assert "no API keys configured" in caplog.text
    with pytest.raises(NotAuthenticatedError, match=r"no API keys are configured.*CHURNLENS_API"):
        authenticate(ring, KEYS[Role.admin], {Role.viewer})


# --- keys and lines ----------------------------------------------------------------------

def test_new_keys_are_prefixed_long_and_distinct():
    keys = {new_key() for _ in range(20)}
    assert len(keys) == 20
    assert all(k.startswith("cl_") and len(k) >= 40 for k in keys)


def test_hash_line_round_trips_through_a_keys_file(tmp_path):
    key = new_key()
    line = hash_line(Role.viewer, key)
    assert line == f"viewer:{hashlib.sha256(key.encode()).hexdigest()}"
    assert key not in line
    with pytest.raises(ConfigError, match="shorter than 16"):
        hash_line(Role.viewer, "short")
    with pytest.raises(ConfigError, match="unknown role"):
        hash_line("root", key)


# --- only digests are kept ---------------------------------------------------------------

def _everything_reachable(obj: object, depth: int = 0) -> list[object]:
    found = [obj]
    if depth > 4:
        return found
    children: list[object] = []
    if isinstance(obj, dict):
        children = [*obj.keys(), *obj.values()]
    elif isinstance(obj, list | tuple | set | frozenset):
        children = list(obj)
    elif hasattr(obj, "__dict__"):
        children = list(vars(obj).values())
    for child in children:
        found += _everything_reachable(child, depth + 1)
    return found


def test_the_ring_keeps_digests_never_keys(tmp_path):
    ring = KeyRing.from_settings(_settings(tmp_path, api_keys=SecretStr(ENV)))
    reachable = _everything_reachable(ring)
    for key in KEYS.values():
        assert key not in repr(ring) and key not in repr(vars(ring))
        for value in reachable:
            assert not (isinstance(value, str) and key in value)
            assert not (isinstance(value, bytes) and key.encode() in value)
    digests = [v for v in reachable if isinstance(v, bytes)]
    assert sorted(digests) == sorted(hashlib.sha256(k.encode()).digest() for k in KEYS.values())
    assert repr(ring) == "KeyRing(scorer=1, viewer=1, admin=1)"


def test_lookup_compares_against_every_entry(monkeypatch):
    import serving.auth as auth

    calls: list[bytes] = []
    real = auth.hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(a)
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", counting)
    ring = KeyRing.from_keys(ENV)
    for key in [*KEYS.values(), "an-unknown-key-0123456789"]:
        calls.clear()
        ring.role_of(key)
        assert len(calls) == len(ring)  # the first entry matching does not stop the loop


# --- sign-in outside FastAPI -------------------------------------------------------------

def test_authenticate_for_a_set_of_roles():
    ring = KeyRing.from_keys(ENV)
    page = {Role.viewer}
    assert authenticate(ring, KEYS[Role.viewer], page).role is Role.viewer
    admin = authenticate(ring, KEYS[Role.admin], page)
    assert admin == Principal(Role.admin,
                              hashlib.sha256(KEYS[Role.admin].encode()).hexdigest()[:8])
    with pytest.raises(PermissionDeniedError, match="needs the viewer role; your key has scorer"):
        authenticate(ring, KEYS[Role.scorer], page)
    with pytest.raises(NotAuthenticatedError, match="unknown API key"):
        authenticate(ring, "nobody-knows-this-key-123", page)
    with pytest.raises(NotAuthenticatedError, match="send Authorization: Bearer <key>"):
        authenticate(ring, None, page)
    both = authenticate(ring, KEYS[Role.scorer], {Role.scorer, Role.viewer})
    assert both.role is Role.scorer


# --- over HTTP ---------------------------------------------------------------------------

ENDPOINTS = {
    ("POST", "/v1/score"): Role.scorer,
    ("GET", "/v1/accounts"): Role.viewer,
    ("GET", "/v1/model"): Role.viewer,
    ("POST", "/v1/admin/reload"): Role.admin,
}


def _app(ring: KeyRing) -> FastAPI:
    app = FastAPI()
    app.state.keyring = ring
    for (method, path), role in ENDPOINTS.items():
        def endpoint(who: Annotated[Principal, Depends(require(role))]) -> dict[str, str]:
            logging.getLogger("test.app").info("request by %s", who)
            return {"role": who.role.value, "key_id": who.key_id}

        app.add_api_route(path, endpoint, methods=[method])
    return app


def _call(app: FastAPI, method: str, path: str,
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    """One request straight through the ASGI interface (a stand-in for TestClient)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": b"", "root_path": "", "client": ("testclient", 50000),
        "server": ("testserver", 80),
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1"))
                    for k, v in (headers or {}).items()],
    }

    async def run() -> None:
        await app(scope, receive, send)

    anyio.run(run)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    response_headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]}
    return start["status"], response_headers, json.loads(body)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def app() -> FastAPI:
    return _app(KeyRing.from_keys(ENV))


@pytest.mark.parametrize(("method", "path"), list(ENDPOINTS))
def test_no_key_is_401_with_a_bearer_challenge(app, method, path):
    status, headers, body = _call(app, method, path)
    assert status == 401
    assert headers["www-authenticate"] == "Bearer"
    assert "send Authorization: Bearer <key>" in body["detail"]


@pytest.mark.parametrize("header", [
    f"Basic {KEYS[Role.admin]}", KEYS[Role.admin], "Bearer", "Bearer   ",
])
def test_malformed_header_is_401(app, header):
    status, headers, body = _call(app, "GET", "/v1/model", {"Authorization": header})
    assert status == 401
    assert headers["www-authenticate"] == "Bearer"
    assert "Bearer <key>" in body["detail"]
    assert KEYS[Role.admin] not in json.dumps(body)


def test_unknown_key_is_401(app):
    status, headers, body = _call(app, "GET", "/v1/model", _bearer(KEYS[Role.admin] + "x"))
    assert status == 401
    assert headers["www-authenticate"] == "Bearer"
    assert "unknown API key" in body["detail"]


@pytest.mark.parametrize("key_role", list(Role))
@pytest.mark.parametrize(("method", "path"), list(ENDPOINTS))
def test_role_matrix(app, key_role, method, path):
    needed = ENDPOINTS[(method, path)]
    status, _, body = _call(app, method, path, _bearer(KEYS[key_role]))
    if key_role is Role.admin or key_role is needed:
        assert status == 200
        assert body["role"] == key_role.value
        assert body["key_id"] == hashlib.sha256(KEYS[key_role].encode()).hexdigest()[:8]
    else:
        assert status == 403
        assert body["detail"].startswith(
            f"this endpoint needs the {needed} role; your key has {key_role}")


def test_no_keys_configured_is_401_saying_how_to_configure():
    app = _app(KeyRing())
    status, headers, body = _call(app, "GET", "/v1/model", _bearer(KEYS[Role.admin]))
    assert status == 401
    assert headers["www-authenticate"] == "Bearer"
    assert "no API keys are configured" in body["detail"]
    assert "CHURNLENS_API_KEYS" in body["detail"]


def test_a_missing_ring_is_a_programming_error():
    app = FastAPI()

    @app.get("/v1/model")
    def model(who: Annotated[Principal, Depends(require(Role.viewer))]) -> dict[str, str]:
        return {}

    with pytest.raises(RuntimeError, match=r"app\.state\.keyring"):
        _call(app, "GET", "/v1/model", _bearer(KEYS[Role.viewer]))


def test_openapi_declares_the_bearer_scheme(app):
    schema = app.openapi()
    assert schema["components"]["securitySchemes"]["APIKey"] == {
        "type": "http", "scheme": "bearer",
        "description": "An API key: Authorization: Bearer <key>. Roles: scorer, viewer, admin.",
    }
    assert schema["paths"]["/v1/score"]["post"]["security"] == [{"APIKey": []}]


def test_keys_never_reach_logs_or_responses(tmp_path, caplog):
    path = tmp_path / "keys.txt"
    path.write_text(hash_line(Role.viewer, KEYS[Role.viewer]) + "\n")
    wrong = "wrong-key-but-looks-real-0123456789"
    with caplog.at_level(logging.DEBUG):
        ring = KeyRing.from_settings(_settings(tmp_path, api_keys=SecretStr(ENV),
                                               api_keys_file=path))
        app = _app(ring)
        bodies = []
        for (method, path_), _ in ENDPOINTS.items():
            for key in [*KEYS.values(), wrong]:
                for headers in (_bearer(key), {"Authorization": f"Token {key}"}):
                    bodies.append(json.dumps(_call(app, method, path_, headers)[2]))
    text = caplog.text + "\n".join(bodies)
    assert "refused" in caplog.text  # the refusals were logged, by key id
    for key in [*KEYS.values(), wrong]:
        assert key not in text
