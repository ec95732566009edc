"""The CSM page through TestClient: sign-in and sessions, the ranked list, an account, export."""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
import time
from urllib.parse import parse_qs, urlsplit

import itsdangerous
import pandas as pd
import pytest
from api_keys import KEYS, auth
from fastapi.testclient import TestClient
from web_support import (
    all_api_rows,
    assert_export_matches,
    assert_reasons_match,
    csv_rows,
    keyring_of_test_keys,
    listed_ids,
    page_reasons,
    post_form,
    scored_store,
)

from features.point_in_time.signals import SIGNALS
from serving.api import create_app
from serving.auth import KeyRing, Principal, Role
from serving.batch import default_as_of
from serving.commands import CSV_COLUMNS
from serving.model_holder import ModelHolder
from serving.store.score_store import ScoreStore
from serving.web.session import SESSION_COOKIE, SESSION_SECONDS, SessionSigner
from serving.web.views import EXPORT_COLUMNS, label

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def page_store(tmp_path_factory, simulated_sources, trained_model):
    store = scored_store(tmp_path_factory.mktemp("web") / "scores.db", simulated_sources,
                         trained_model)
    yield store
    store.dispose()


@pytest.fixture
def make_client(trained_model, isolated_settings):
    """TestClients of the whole app (API and page) around a store; none signed in."""
    clients: list[TestClient] = []

    def _make(store: ScoreStore, keyring: KeyRing | None = None,
              base_url: str = "http://testserver") -> TestClient:
        settings = isolated_settings.model_copy(update={"reload_interval": 0})
        app = create_app(settings, holder=ModelHolder(lambda: (trained_model, "1")),
                         store=store,
                         keyring=keyring if keyring is not None else keyring_of_test_keys())
        client = TestClient(app, base_url=base_url, follow_redirects=False)
        client.__enter__()
        clients.append(client)
        return client

    yield _make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client, page_store) -> TestClient:
    return make_client(page_store)


def sign_in(client: TestClient, role: str = "viewer", next_path: str = "/"):
    return post_form(client, "/sign-in", {"key": KEYS[role], "next": next_path})


@pytest.fixture
def signed_in(client) -> TestClient:
    assert sign_in(client).status_code == 303
    return client


def api(client: TestClient, params: dict) -> dict:
    response = client.get("/v1/accounts", params=params, headers=auth("viewer"))
    assert response.status_code == 200, response.text
    return response.json()


# -- sessions -----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/?band=high&owner=x", "/accounts/A00001",
                                  "/export.csv", "/alerts"])
def test_pages_without_a_session_redirect_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 303
    target = urlsplit(response.headers["location"])
    assert target.path == "/sign-in"
    assert parse_qs(target.query)["next"] == [path]
    form = client.get(response.headers["location"])
    assert form.status_code == 200
    assert 'type="password"' in form.text and 'method="post"' in form.text
    assert "server restarts" in form.text


@pytest.mark.parametrize("role", ["viewer", "admin"])
def test_viewer_and_admin_keys_sign_in(client, role):
    response = sign_in(client, role, "/?band=high")
    assert response.status_code == 303 and response.headers["location"] == "/?band=high"
    page = client.get("/?band=high")
    assert page.status_code == 200
    assert "Accounts by renewal risk" in page.text
    article = "an" if role == "admin" else "a"
    assert f"Signed in with {article} {role} key" in page.text
    # Signed in, the sign-in page sends people on.
    assert client.get("/sign-in").headers["location"] == "/"


def test_the_session_cookie_is_httponly_samesite_and_expires(client, make_client, page_store):
    cookie = sign_in(client).headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower(): part.strip()
                  for part in cookie.split(";")}
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in attributes
    assert attributes["samesite"].lower() == "samesite=lax"
    assert attributes["max-age"] == f"Max-Age={SESSION_SECONDS}" and SESSION_SECONDS == 8 * 3600
    assert attributes["path"] == "Path=/"
    assert "secure" not in attributes  # plain HTTP on localhost
    over_https = make_client(page_store, base_url="https://testserver")
    assert "secure" in sign_in(over_https).headers["set-cookie"].lower()


def test_a_scorer_key_cannot_sign_in(client):
    response = sign_in(client, "scorer")
    assert response.status_code == 403
    assert "scorer key" in response.text and "viewer or admin key" in response.text
    assert "set-cookie" not in response.headers
    assert client.get("/").status_code == 303


@pytest.mark.parametrize("key", ["not-a-key-0123456789", "", "x" * 5000])
def test_a_wrong_or_missing_key_is_refused(client, key):
    response = post_form(client, "/sign-in", {"key": key})
    assert response.status_code == 401
    assert "set-cookie" not in response.headers
    assert "not recognised" in response.text or "Enter your API key" in response.text
    assert client.get("/").status_code == 303


def test_a_server_without_keys_says_so_on_sign_in(make_client, page_store):
    client = make_client(page_store, keyring=KeyRing())
    response = post_form(client, "/sign-in", {"key": KEYS["viewer"]})
    assert response.status_code == 401 and "No API keys are configured" in response.text


def _session_value(client: TestClient) -> str:
    return sign_in(client).cookies[SESSION_COOKIE]


def test_a_tampered_cookie_is_refused(client):
    value = _session_value(client)
    _, stamp, signature = value.split(".")
    forged = itsdangerous.encoding.base64_encode(
        b'{"role":"admin","key_id":"00000000"}').decode()
    client.cookies.clear()
    for bad in (f"{forged}.{stamp}.{signature}", value[:-2] + ("AA" if value[-2:] != "AA"
                                                               else "BB"),
                "garbage", ""):
        client.cookies.set(SESSION_COOKIE, bad)
        assert client.get("/").status_code == 303, bad
    client.cookies.set(SESSION_COOKIE, value)
    assert client.get("/").status_code == 200


def test_an_expired_or_foreign_session_is_refused(client, monkeypatch):
    ring = keyring_of_test_keys()
    principal = Principal(Role.viewer, next(i for r, i in ring.key_ids if r is Role.viewer))
    signer: SessionSigner = client.app.state.web.sessions
    with monkeypatch.context() as patch:
        patch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp",
                      lambda self: int(time.time()) - SESSION_SECONDS - 5)
        stale = signer.issue(principal)
    client.cookies.set(SESSION_COOKIE, stale)
    assert client.get("/").status_code == 303
    # Another process (or this server before a restart) signed with another secret.
    client.cookies.set(SESSION_COOKIE, SessionSigner().issue(principal))
    assert client.get("/").status_code == 303
    client.cookies.set(SESSION_COOKIE, signer.issue(principal))
    assert client.get("/").status_code == 200


def test_a_session_ends_when_its_key_leaves_the_ring(client):
    value = _session_value(client)
    client.app.state.keyring = KeyRing.from_keys(f"admin:{KEYS['admin']}")
    client.cookies.set(SESSION_COOKIE, value)
    assert client.get("/").status_code == 303


def test_sign_in_redirects_only_within_the_site(client):
    for outside in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"):
        assert sign_in(client, next_path=outside).headers["location"] == "/"
    assert sign_in(client, next_path="/accounts/A1?back=%2F").headers["location"] == \
        "/accounts/A1?back=%2F"


def test_sign_out_ends_the_session(signed_in):
    value = signed_in.cookies[SESSION_COOKIE]
    response = post_form(signed_in, "/sign-out", {}, page="/")
    assert response.status_code == 303 and response.headers["location"].startswith("/sign-in")
    cleared = response.headers["set-cookie"]
    assert cleared.startswith(f"{SESSION_COOKIE}=") and "Max-Age=0" in cleared
    assert signed_in.get("/").status_code == 303
    assert "You have signed out" in signed_in.get(response.headers["location"]).text
    # The old cookie, replayed, is refused too.
    signed_in.cookies.set(SESSION_COOKIE, value)
    assert signed_in.get("/").status_code == 303


def test_the_key_never_reaches_a_log_a_url_or_a_page(client, caplog):
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    for role in ("viewer", "admin", "scorer"):
        response = sign_in(client, role)
        seen += [response.text, str(response.headers), str(response.url)]
        if response.status_code == 303:
            page = client.get(response.headers["location"])
            seen += [page.text, str(page.headers), str(page.url)]
            seen.append(client.get("/export.csv").text)
            post_form(client, "/sign-out", {}, page="/")
    wrong = "wrong-key-0123456789abcdef"
    response = post_form(client, "/sign-in", {"key": wrong})
    seen += [response.text, str(response.headers)]
    logged = [record.getMessage() for record in caplog.records]
    assert any("sign-in" in line for line in logged)
    for key in [*KEYS.values(), wrong]:
        assert not any(key in text for text in seen), "a key appeared in a response"
        assert not any(key in line for line in logged), "a key appeared in the log"


# -- the ranked list ------------------------------------------------------------------------------

def test_the_list_is_the_latest_run_ranked_like_the_api(signed_in):
    page = signed_in.get("/")
    assert page.status_code == 200
    first = api(signed_in, {"per_page": 50})
    assert listed_ids(page.text) == [a["account_id"] for a in first["items"]]
    assert f"of {first['total']:,} accounts" in page.text
    by_money = signed_in.get("/", params={"sort": "arr_at_risk"})
    assert listed_ids(by_money.text) == [
        a["account_id"] for a in api(signed_in, {"sort": "arr_at_risk"})["items"]]
    assert 'aria-sort="descending"' in by_money.text
    badges = re.findall(r'<span class="badge band-(\w+)">.*?</span>(\w+)</span>', page.text)
    assert len(badges) == 50  # the band is written, not only coloured
    assert all(band == text.lower() for band, text in badges)
    assert re.search(r"[+\u2212]\d+\.\d pts", page.text)  # change since the previous run


def test_filters_and_pages_match_the_api(signed_in):
    everyone = all_api_rows(lambda p: api(signed_in, p), {})
    owner = everyone[0]["csm_owner"]
    segment = everyone[0]["segment"]
    cases = [
        ({"owner": owner}, {"csm_owner": owner}),
        ({"segment": segment, "band": "medium"}, {"segment": segment, "band": "medium"}),
        ({"renewal": "60", "sort": "arr_at_risk"},
         {"renewal_within_days": 60, "sort": "arr_at_risk"}),
        ({"page": "2"}, {"page": 2}),
        ({"owner": owner, "band": "high", "segment": segment, "renewal": "365"},
         {"csm_owner": owner, "band": "high", "segment": segment,
          "renewal_within_days": 365}),
    ]
    for page_params, api_params in cases:
        page = signed_in.get("/", params=page_params)
        assert page.status_code == 200, page_params
        expected = api(signed_in, {"per_page": 50, **api_params})
        assert listed_ids(page.text) == [a["account_id"] for a in expected["items"]]
        assert f"{expected['total']:,} account" in page.text
    # Every owner of the run is offered, and "all" is the default.
    html = signed_in.get("/").text
    for name in {a["csm_owner"] for a in everyone}:
        assert f'<option value="{name}">' in html.replace("&#39;", "'")
    assert '<option value="">All owners</option>' in html


def test_header_figures_add_up_from_the_api(signed_in):
    everyone = all_api_rows(lambda p: api(signed_in, p), {})
    high = api(signed_in, {"band": "high"})["total"]
    renewing = api(signed_in, {"renewal_within_days": 90})["total"]
    page = signed_in.get("/").text
    figures = dict(re.findall(
        r"<dt>([^<]+)</dt>\s*<dd class=\"figure-value\">(?:<a [^>]+>)?([^<]+)", page))
    assert figures["Accounts at high risk"] == f"{high:,}"
    assert figures["Renewals in the next 90 days"] == f"{renewing:,}"
    from serving.web.views import compact_money
    assert figures["ARR at risk"] == compact_money(sum(a["arr_at_risk"] for a in everyone))
    # Narrowed to one owner, the figures are that owner's book.
    owner = everyone[0]["csm_owner"]
    mine = signed_in.get("/", params={"owner": owner}).text
    owned_high = api(signed_in, {"band": "high", "csm_owner": owner})["total"]
    figures = dict(re.findall(
        r"<dt>([^<]+)</dt>\s*<dd class=\"figure-value\">(?:<a [^>]+>)?([^<]+)", mine))
    assert figures["Accounts at high risk"] == f"{owned_high:,}"


def test_quarter_renewals_by_status_match_the_terms_counted_by_hand(signed_in,
                                                                    simulated_sources):
    as_of = pd.Timestamp(default_as_of(simulated_sources), tz="UTC")
    last_day = as_of - pd.Timedelta(days=1)
    first_month = 3 * ((last_day.month - 1) // 3) + 1
    start = pd.Timestamp(dt.date(last_day.year, first_month, 1), tz="UTC")
    end = start + pd.DateOffset(months=3)
    bands = {a["account_id"]: a["band"] for a in all_api_rows(lambda p: api(signed_in, p), {})}
    counts = dict.fromkeys(("renewed", "no_risk", "at_risk", "churned"), 0)
    known = simulated_sources.subscriptions
    known = known[known["start_date"] < as_of]
    for account, terms in known.groupby("account_id"):
        due = terms[(terms["end_date"] >= start) & (terms["end_date"] < end)]
        if due.empty:
            continue
        term = due.sort_values(["end_date", "start_date"]).iloc[-1]
        # A quarter of the term, 7 to 30 days: 30 on an annual term, 7 on a monthly one.
        days = (term["end_date"] - term["start_date"]).days
        grace = pd.Timedelta(days=min(30, max(7, days // 4)))
        renewed = ((terms["start_date"] > term["start_date"])
                   & (terms["start_date"] <= term["end_date"] + grace)).any()
        if renewed:
            counts["renewed"] += 1
        elif term["end_date"] + grace <= as_of:
            counts["churned"] += 1
        else:
            counts["no_risk" if bands.get(account) == "low" else "at_risk"] += 1
    assert sum(counts.values()) > 0 and counts["renewed"] > 0
    page = signed_in.get("/").text
    shown = {status: int(n.replace(",", "")) for status, n in re.findall(
        r'data-status="(\w+)">.*?<strong>([\d,]+)</strong>', page)}
    assert shown == counts


def test_header_figures_link_to_the_accounts_they_count(signed_in):
    owner = api(signed_in, {"per_page": 1})["items"][0]["csm_owner"]
    page = signed_in.get("/", params={"owner": owner, "band": "low", "renewal": "7"}).text
    links = dict((label, (href, count)) for href, count, label in re.findall(
        r'<dd class="figure-value"><a href="([^"]+)">([\d,]+)<span class="visually-hidden">'
        r' \(show them\)</span></a></dd>\s*<dd class="figure-sub">[^<]*?(accounts|ARR up)',
        page))
    assert set(links) == {"accounts", "ARR up"}
    for href, count in links.values():
        # The figure counts the owner's book, whatever else the list is filtered by.
        target = signed_in.get(href.replace("&amp;", "&"))
        assert target.status_code == 200
        assert f"of {count} account" in target.text or f"{count} account" in target.text
        assert "owner=" in href and "band=low" not in href


def test_the_list_stays_fast_on_10000_accounts(make_client, tmp_path):
    import datetime as dt

    from serving.risk import Bands, Reason, RiskScore
    from serving.store.score_store import AccountInfo, StoredScore

    as_of = dt.date(2026, 1, 1)
    rows = []
    for i in range(10_000):
        probability = (i * 7919 % 10_000) / 10_000
        reasons = (Reason("seats", "usage", 3, 0.5, "3 of 40 seats active"),)
        rows.append(StoredScore(
            RiskScore(f"A{i:05d}", as_of, probability, Bands().band(probability),
                      "churnlens", "1", reasons, {"usage": 0.5}),
            AccountInfo(f"A{i:05d}", f"Account {i}", ("smb", "enterprise")[i % 2],
                        f"Owner {i % 40}", 1_000.0 + i, as_of + dt.timedelta(days=i % 400))))
    store = ScoreStore(f"sqlite:///{tmp_path / 'big.db'}")
    store.write_run("1", as_of, rows)
    client = make_client(store)
    sign_in(client)
    for params, limit in [({}, 1.0), ({}, 0.3), ({"owner": "Owner 3", "band": "high"}, 1.0),
                          ({"sort": "arr_at_risk", "page": "150"}, 1.0)]:
        started = time.perf_counter()
        page = client.get("/", params=params)
        seconds = time.perf_counter() - started
        assert page.status_code == 200 and len(listed_ids(page.text)) == 50
        assert seconds < limit, (params, seconds)
    assert "10,000 accounts scored" in page.text
    store.dispose()


def test_unusable_filters_are_explained_on_the_page(signed_in):
    page = signed_in.get("/", params={"band": "purple", "renewal": "soon", "page": "0"})
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert "no “purple” risk band" in page.text and "“soon” was ignored" in page.text
    assert listed_ids(page.text) == [a["account_id"] for a in api(signed_in, {})["items"]]
    past_the_end = signed_in.get("/", params={"page": "999"})
    assert past_the_end.status_code == 200 and "Go to the first page" in past_the_end.text
    nobody = signed_in.get("/", params={"owner": "Nobody Atall"})
    assert "No account matches these filters" in nobody.text


# -- one account ---------------------------------------------------------------------------------

def test_the_account_page_shows_reasons_history_and_model(signed_in):
    top = api(signed_in, {"per_page": 1})["items"][0]
    detail = signed_in.get(f"/v1/accounts/{top['account_id']}", headers=auth("viewer")).json()
    page = signed_in.get(f"/accounts/{top['account_id']}")
    assert page.status_code == 200
    assert top["name"] in page.text
    assert_reasons_match(page_reasons(page.text), detail["reasons"])
    assert f'<dd id="model-version">{detail["model_version"]}</dd>' in page.text
    assert page.text.count('<circle class="point') == len(detail["history"]) == 2
    assert "Score history as a table" in page.text
    assert f"{round(top['probability'] * 100)}%" in page.text
    for family in detail["families"]:
        assert f'data-family="{family}"' in page.text or family.capitalize() in page.text


def test_the_account_page_explains_the_change_since_the_previous_run(signed_in):
    """"+9.0 pts since 1 Nov 2025 / Mostly <signal>, pushing the risk up: <its reason>"."""
    top = api(signed_in, {"per_page": 1})["items"][0]
    detail = signed_in.get(f"/v1/accounts/{top['account_id']}", headers=auth("viewer")).json()
    page = signed_in.get(f"/accounts/{top['account_id']}").text
    latest, previous = detail["latest"], detail["history"][1]
    assert latest["delta"] is not None and latest["moved_most"] in SIGNALS
    assert f'since <time datetime="{previous["as_of"]}">' in page
    change = html.unescape(re.search(r'<p class="risk-card-why" id="risk-change">(.*?)</p>',
                                     page, re.S).group(1))
    way = "up" if latest["moved_most_change"] > 0 else "down"
    assert change.startswith(f"Mostly {SIGNALS[latest['moved_most']][0]}, pushing the risk "
                             f"{way}")
    said = [r["text"] for r in detail["reasons"] if r["signal"] == latest["moved_most"]]
    assert change.endswith(f": {said[0]}" if said else way)


def test_the_account_page_shows_the_evidence_the_api_gives(signed_in):
    for item in api(signed_in, {"per_page": 200})["items"]:
        detail = signed_in.get(f"/v1/accounts/{item['account_id']}",
                               headers=auth("viewer")).json()
        if detail["evidence"]["open_tickets"] and detail["evidence"]["last_nps"]:
            break
    else:
        pytest.fail("no account among the top 200 has both open tickets and an NPS answer")
    evidence = detail["evidence"]
    assert evidence["as_of"] == detail["as_of"]
    page = signed_in.get(f"/accounts/{item['account_id']}").text
    nps = evidence["last_nps"]
    assert re.search(rf'id="last-nps"><strong>{nps["score"]:g} of 10</strong>', page)
    tickets = re.search(r'id="open-tickets">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert tickets is not None
    assert tickets.group(1).count("<tr>") == len(evidence["open_tickets"])
    for ticket in evidence["open_tickets"]:
        assert ticket["ticket_id"] in tickets.group(1)
    assert page.count('<rect class="usage-bar"') == len(evidence["usage"]) == 12
    notes = re.search(r'<ul class="notes" id="csm-notes">(.*?)</ul>', page, re.S)
    assert notes is not None and evidence["recent_notes"]
    assert notes.group(1).count("<li>") == len(evidence["recent_notes"])
    for note in evidence["recent_notes"]:
        assert html.escape(note["text"] or "no text") in notes.group(1)


def test_the_account_page_tags_the_risk_events_a_note_names(signed_in):
    for item in api(signed_in, {"per_page": 100})["items"]:
        detail = signed_in.get(f"/v1/accounts/{item['account_id']}",
                               headers=auth("viewer")).json()
        named = [n for n in detail["evidence"]["recent_notes"] if n["topics"]]
        if named:
            break
    else:
        pytest.fail("no account among the top 100 has a note naming a risk event")
    page = signed_in.get(f"/accounts/{item['account_id']}").text
    notes = re.search(r'<ul class="notes" id="csm-notes">(.*?)</ul>', page, re.S)
    assert notes is not None
    for topic in named[0]["topics"]:
        assert f'<span class="tag topic">{label(topic)}</span>' in notes.group(1)


def test_an_unknown_account_is_a_404_page(signed_in):
    page = signed_in.get("/accounts/NOPE-123")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "NOPE-123" in page.text and "Back to the accounts" in page.text


def test_the_back_link_keeps_the_lists_filters_and_stays_on_site(signed_in):
    top = api(signed_in, {"per_page": 1})["items"][0]
    back = signed_in.get(f"/accounts/{top['account_id']}", params={"back": "/?band=high"})
    assert 'href="/?band=high"' in back.text
    away = signed_in.get(f"/accounts/{top['account_id']}",
                         params={"back": "https://evil.example/"})
    assert "evil.example" not in away.text


# -- export -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("page_params", "api_params"), [
    ({}, {}),
    ({"sort": "arr_at_risk", "band": "high"}, {"sort": "arr_at_risk", "band": "high"}),
    ({"segment": "smb", "renewal": "120"}, {"segment": "smb", "renewal_within_days": 120}),
])
def test_export_is_the_filtered_list_like_the_api(signed_in, page_params, api_params):
    response = signed_in.get("/export.csv", params=page_params)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    exported = csv_rows(response.text)
    expected = all_api_rows(lambda p: api(signed_in, p), api_params)
    assert len(exported) == len(expected) > 0
    assert_export_matches(exported, expected)


def test_export_has_the_columns_of_the_cli_export(signed_in):
    assert EXPORT_COLUMNS == CSV_COLUMNS
    header = signed_in.get("/export.csv").text.splitlines()[0]
    assert header == ",".join(EXPORT_COLUMNS)
    refused = signed_in.get("/export.csv", params={"band": "purple"})
    assert refused.status_code == 422 and "purple" in refused.text


# -- the page itself ------------------------------------------------------------------------------

def test_pages_are_self_contained_and_accessible(client):
    responses = [client.get("/sign-in?next=/")]
    sign_in(client)
    top = api(client, {"per_page": 1})["items"][0]
    responses += [client.get("/"), client.get(f"/accounts/{top['account_id']}")]
    for response in responses:
        assert response.status_code == 200
        html = response.text
        assert "default-src 'self'" in response.headers["content-security-policy"]
        external = [u for u in re.findall(r'(?:src|href|action)="([^"]+)"', html)
                    if not u.startswith(("/", "#"))]
        assert not external, external
        assert 'class="skip-link" href="#main"' in html and '<main id="main"' in html
        assert '<html lang="en">' in html and 'name="viewport"' in html
        for control in re.findall(r'<(?:select|input)\b[^>]*\bid="([^"]+)"', html):
            assert f'<label for="{control}">' in html, control
        assert ' style="' not in html  # the CSP allows no inline styles
    for asset in ("web.css", "web.js", "favicon.svg"):
        assert client.get(f"/static/{asset}").status_code == 200
    css = client.get("/static/web.css").text
    assert ":focus-visible" in css and "@media (max-width: 720px)" in css


def test_an_empty_store_says_how_to_fill_it(make_client, tmp_path):
    store = ScoreStore(f"sqlite:///{tmp_path / 'empty.db'}")
    client = make_client(store)
    sign_in(client)
    page = client.get("/")
    assert page.status_code == 200 and "churnlens score" in page.text
    assert csv_rows(client.get("/export.csv").text) == []
    store.dispose()


# -- the alerts inbox ---------------------------------------------------------------------------

def test_the_inbox_says_what_is_wrong_with_its_filters_and_refuses_forged_forms(signed_in):
    bad = signed_in.get("/alerts", params={"state": "closed", "page": "two"})
    assert bad.status_code == 422
    assert "Unknown state “closed”" in bad.text and "“two” is not a page number" in bad.text
    listed = signed_in.get("/v1/alerts", headers=auth("viewer")).json()["alerts"]
    target = listed[0]["id"]
    forged = signed_in.post(f"/alerts/{target}", data={"action": "ack", "csrf": "forged"})
    assert forged.status_code == 403 and "expired or was sent from another site" in forged.text
    unknown = post_form(signed_in, f"/alerts/{target}", {"action": "close"}, page="/alerts")
    assert unknown.status_code == 422 and "Unknown action" in unknown.text
    past = post_form(signed_in, f"/alerts/{target}", {"action": "snooze",
                                                      "until": "2020-01-01"}, page="/alerts")
    assert past.status_code == 422 and "until a day after today" in past.text
    state = signed_in.get("/v1/alerts", params={"per_page": 200},
                          headers=auth("viewer")).json()["alerts"]
    assert next(a for a in state if a["id"] == target)["state"] == "open"  # nothing saved
