"""The page's defences: CSRF tokens on both forms, slowed repeated failed sign-ins, and the
security headers on every page."""

from __future__ import annotations

import pytest
from api_keys import KEYS
from fastapi.testclient import TestClient
from web_support import form_token, keyring_of_test_keys, post_form

from serving.api import create_app
from serving.model_holder import ModelHolder
from serving.web.csrf import CSRF_COOKIE
from serving.web.routes import PAGE_HEADERS
from serving.web.session import SESSION_COOKIE
from serving.web.throttle import SignInThrottle


@pytest.fixture
def client(trained_model, isolated_settings):
    settings = isolated_settings.model_copy(update={"reload_interval": 0})
    app = create_app(settings, holder=ModelHolder(lambda: (trained_model, "1")),
                     keyring=keyring_of_test_keys())
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


def test_a_sign_in_without_the_forms_token_is_refused(client):
    bare = client.post("/sign-in", data={"key": KEYS["viewer"]})  # no token, no cookie
    assert bare.status_code == 403 and SESSION_COOKIE not in bare.cookies
    assert "expired or was sent from another site" in bare.text
    token = form_token(client.get("/sign-in").text)
    assert client.cookies.get(CSRF_COOKIE) == token
    wrong = client.post("/sign-in", data={"key": KEYS["viewer"], "csrf": token[::-1]})
    assert wrong.status_code == 403
    forged = client.post("/sign-in", data={"key": KEYS["viewer"], "csrf": token},
                         headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403
    genuine = client.post("/sign-in", data={"key": KEYS["viewer"], "csrf": token},
                          headers={"Origin": "http://testserver"})
    assert genuine.status_code == 303 and SESSION_COOKIE in genuine.cookies


def test_a_sign_out_without_the_forms_token_keeps_the_session(client):
    assert post_form(client, "/sign-in", {"key": KEYS["viewer"]}).status_code == 303
    assert client.post("/sign-out").status_code == 403
    assert client.get("/").status_code == 200  # still signed in
    assert post_form(client, "/sign-out", {}, page="/").status_code == 303
    assert client.get("/").status_code == 303


def test_the_csrf_cookie_is_strict_and_unreadable_by_script(client):
    header = client.get("/sign-in").headers["set-cookie"]
    assert header.startswith(f"{CSRF_COOKIE}=")
    assert "HttpOnly" in header and "SameSite=strict" in header


def test_repeated_failed_sign_ins_are_slowed_down(client):
    for _ in range(5):  # five mistakes cost nothing
        assert post_form(client, "/sign-in", {"key": "wrong-key-0123456789ab"}
                         ).status_code == 401
    assert post_form(client, "/sign-in", {"key": "wrong-key-0123456789ab"}).status_code == 401
    locked = post_form(client, "/sign-in", {"key": KEYS["viewer"]})  # even the right key
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
    assert "Too many failed sign-ins" in locked.text and SESSION_COOKIE not in locked.cookies


def test_the_lockout_doubles_then_a_success_clears_it():
    now = [0.0]
    throttle = SignInThrottle(free=2, base=1.0, longest=8.0, clock=lambda: now[0])
    waits = []
    for _ in range(7):
        throttle.failed("10.0.0.1")
        waits.append(throttle.wait("10.0.0.1"))
    assert waits == [0.0, 0.0, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert throttle.wait("10.0.0.2") == 0.0  # another address is not affected
    now[0] += 8.0
    assert throttle.wait("10.0.0.1") == 0.0
    throttle.succeeded("10.0.0.1")
    throttle.failed("10.0.0.1")
    assert throttle.wait("10.0.0.1") == 0.0


def test_every_page_sends_the_security_headers(client):
    answers = [client.get("/sign-in"), post_form(client, "/sign-in", {"key": "nope" * 5})]
    assert post_form(client, "/sign-in", {"key": KEYS["viewer"]}).status_code == 303
    answers += [client.get("/"), client.get("/accounts/NO-SUCH"), client.get("/export.csv"),
                client.post("/sign-out")]
    for answer in answers:
        for name, value in PAGE_HEADERS.items():
            assert answer.headers.get(name) == value, (answer.request.url, name)
    policy = PAGE_HEADERS["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert PAGE_HEADERS["Referrer-Policy"] == "same-origin"
