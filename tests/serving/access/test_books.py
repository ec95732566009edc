"""Who sees what: the role × endpoint × book matrix, on the API and the CSM page, and the
audit log of what they did.

Five keys against a stored run of the simulated base: a scorer, a viewer of every
account, a viewer of one CSM's book, a viewer of a two-CSM team's book, and an admin
(who sees all even when a book is written on its line). Expected answers are written out
by hand; accounts of the book are read from the store independently of the code under test.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from web_support import all_api_rows, post_form, scored_store

from features.settings import Settings, use_settings
from serving.api import create_app
from serving.auth import KeyRing, grant_for
from serving.model_holder import ModelHolder
from serving.store.schema import account_scores, alerts

KEYS = {
    "scorer": "matrix-scorer-key-0123456789",
    "viewer": "matrix-viewer-key-0123456789",
    "book": "matrix-book-key-0123456789ab",
    "team": "matrix-team-key-0123456789ab",
    "admin": "matrix-admin-key-0123456789a",
}


@pytest.fixture(scope="module")
def store(tmp_path_factory, simulated_sources, trained_model):
    found = scored_store(tmp_path_factory.mktemp("books") / "scores.db", simulated_sources,
                         trained_model)
    yield found
    found.dispose()


@pytest.fixture(scope="module")
def owners(store) -> dict[str, list[str]]:
    """csm_owner → its account ids in the latest run, read straight from the table."""
    run = store.latest_run()
    engine = sa.create_engine(store._engine.url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(account_scores.c.csm_owner, account_scores.c.account_id)
                            .where(account_scores.c.run_id == run.id)).all()
    engine.dispose()
    out: dict[str, list[str]] = {}
    for owner, account in rows:
        out.setdefault(owner, []).append(account)
    return out


@pytest.fixture(scope="module")
def client(store, owners, trained_model, tmp_path_factory):
    first, second, third = sorted(o for o in owners if o)[:3]
    ring = KeyRing([
        grant_for("scorer", KEYS["scorer"], label="app"),
        grant_for("viewer", KEYS["viewer"], label="all"),
        grant_for("viewer", KEYS["book"], label="one", book=frozenset({first}),
                  csms=(first,)),
        grant_for("viewer", KEYS["team"], label="team", book=frozenset({first, second}),
                  csms=(first, second)),
        grant_for("admin", KEYS["admin"], label="ops", book=frozenset({third}),
                  csms=(third,)),
    ])
    settings = Settings(home=tmp_path_factory.mktemp("home"), reload_interval=0)
    app = create_app(settings, holder=ModelHolder(lambda: (trained_model, "1")),
                     store=store, keyring=ring)
    with TestClient(app, follow_redirects=False) as test_client:
        test_client.books = {"book": {first}, "team": {first, second}}  # type: ignore[attr-defined]
        test_client.first, test_client.second, test_client.third = first, second, third  # type: ignore[attr-defined]
        yield test_client


def _api(client: TestClient, who: str, method: str, path: str, **kwargs) -> int:
    answer = client.request(method, path, headers={"Authorization": f"Bearer {KEYS[who]}"},
                            **kwargs)
    return answer.status_code


def _page(client: TestClient, who: str, path: str):
    client.cookies.clear()
    signed = post_form(client, "/sign-in", {"key": KEYS[who], "next": "/"})
    if signed.status_code != 303:
        return signed
    return client.get(path)


def test_the_role_endpoint_book_matrix(client, owners, trained_model):
    first, second, third = client.first, client.second, client.third
    in_first, in_second, in_third = owners[first][0], owners[second][0], owners[third][0]
    example = client.get("/openapi.json").json()["paths"]["/v1/score"]["post"][
        "requestBody"]["content"]["application/json"]["example"]
    endpoints = {
        "score": ("POST", "/v1/score", {"json": example}),
        "list": ("GET", "/v1/accounts", {}),
        "first": ("GET", f"/v1/accounts/{in_first}", {}),
        "second": ("GET", f"/v1/accounts/{in_second}", {}),
        "third": ("GET", f"/v1/accounts/{in_third}", {}),
        "model": ("GET", "/v1/model", {}),
        "reload": ("POST", "/v1/admin/reload", {}),
    }
    expected = {  # another book's account is a 404, as if it did not exist
        "scorer": dict(score=200, list=403, first=403, second=403, third=403, model=403,
                       reload=403),
        "viewer": dict(score=403, list=200, first=200, second=200, third=200, model=200,
                       reload=403),
        "book": dict(score=403, list=200, first=200, second=404, third=404, model=200,
                     reload=403),
        "team": dict(score=403, list=200, first=200, second=200, third=404, model=200,
                     reload=403),
        "admin": dict(score=200, list=200, first=200, second=200, third=200, model=200,
                      reload=200),
    }
    seen = {who: {name: _api(client, who, method, path, **kwargs)
                  for name, (method, path, kwargs) in endpoints.items()}
            for who in expected}
    assert seen == expected

    pages = {"list": "/", "export": "/export.csv", "first": f"/accounts/{in_first}",
             "second": f"/accounts/{in_second}", "third": f"/accounts/{in_third}"}
    expected_pages = {
        "scorer": dict(list=403, export=403, first=403, second=403, third=403),
        "viewer": dict(list=200, export=200, first=200, second=200, third=200),
        "book": dict(list=200, export=200, first=200, second=404, third=404),
        "team": dict(list=200, export=200, first=200, second=200, third=404),
        "admin": dict(list=200, export=200, first=200, second=200, third=200),
    }
    seen_pages = {who: {name: _page(client, who, path).status_code
                        for name, path in pages.items()} for who in expected_pages}
    assert seen_pages == expected_pages
    # A missing account and another book's answer alike, so existence does not leak.
    client.cookies.clear()
    missing = client.get("/v1/accounts/NO-SUCH-ACCOUNT",
                         headers={"Authorization": f"Bearer {KEYS['book']}"}).json()
    hidden = client.get(f"/v1/accounts/{in_second}",
                        headers={"Authorization": f"Bearer {KEYS['book']}"}).json()
    assert hidden["detail"] == missing["detail"].replace("NO-SUCH-ACCOUNT", in_second)


@pytest.mark.parametrize("who", ["book", "team", "viewer", "admin"])
def test_lists_and_exports_hold_exactly_the_book(client, owners, who):
    book = client.books.get(who)
    wanted = Counter({o: len(a) for o, a in owners.items() if book is None or o in book})

    def get(params):
        answer = client.get("/v1/accounts", params=params,
                            headers={"Authorization": f"Bearer {KEYS[who]}"})
        assert answer.status_code == 200, answer.text
        return answer.json()

    listed = Counter(row["csm_owner"] for row in all_api_rows(get, {}))
    assert listed == wanted
    exported = _page(client, who, "/export.csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert Counter(row["csm_owner"] for row in rows) == wanted
    page = _page(client, who, "/").text
    if book is not None:  # another book's CSM is not even offered as a filter
        assert client.third not in page
        assert f"{sum(wanted.values()):,} accounts scored in your book" in page
        forced = client.get("/", params={"owner": client.third})
        assert forced.status_code == 200 and "No account matches" in forced.text


def test_sign_ins_exports_and_reloads_are_audited(client, run_cli, store,
                                                   isolated_settings):
    client.cookies.clear()
    assert post_form(client, "/sign-in", {"key": "wrong-key-0123456789abcdef"}
                     ).status_code == 401
    _page(client, "book", "/export.csv")
    assert _api(client, "admin", "POST", "/v1/admin/reload") == 200
    use_settings(isolated_settings.model_copy(
        update={"score_store_url": store._engine.url.render_as_string()}))
    result = run_cli("audit", "export", "--format", "jsonl")
    assert result.code == 0, result.err
    events = [json.loads(line) for line in result.out.splitlines()]
    mine = [(e["action"], e["outcome"], e["label"]) for e in events]
    for event in [("sign_in", "refused", ""), ("sign_in", "ok", "one"),
                  ("export", "ok", "one"), ("reload", "ok", "ops")]:
        assert event in mine
    text = result.out + run_cli("audit", "export").out
    assert not any(key in text for key in KEYS.values())
    assert "wrong-key" not in text


@pytest.mark.parametrize("who", ["book", "team", "viewer", "admin"])
def test_alerts_hold_exactly_the_book_on_the_api_and_the_page(client, store, who):
    book = client.books.get(who)
    engine = sa.create_engine(store._engine.url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(alerts.c.id, alerts.c.csm_owner)
                            .where(alerts.c.state != "resolved")).all()
    engine.dispose()
    wanted = sorted(i for i, owner in rows if book is None or owner in book)
    hidden = sorted(i for i, owner in rows if book is not None and owner not in book)
    assert wanted, "the scored store should raise alerts in every book"
    headers = {"Authorization": f"Bearer {KEYS[who]}"}
    seen: list[int] = []
    for number in range(1, 100):
        listed = client.get("/v1/alerts", params={"per_page": 200, "page": number},
                            headers=headers).json()
        assert listed["total"] == len(wanted)
        seen += [a["id"] for a in listed["alerts"]]
        if len(seen) >= listed["total"]:
            break
    assert sorted(seen) == wanted
    page = _page(client, who, "/alerts?state=unresolved").text
    assert f"{len(wanted):,} alert" in page
    if hidden:
        other = hidden[0]
        assert client.post(f"/v1/alerts/{other}/ack", headers=headers).status_code == 404
        refused = post_form(client, f"/alerts/{other}", {"action": "ack", "back": "/alerts"},
                            page="/alerts")
        assert refused.status_code == 404
        assert f'id="alert-{other}"' not in page
