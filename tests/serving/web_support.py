"""Helpers shared by the CSM page's tests: a scored store, the test keys, reading pages."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from api_keys import KEYS

from features.sources.loading import Sources
from serving.alerts.book import AlertBook
from serving.alerts.rules import default_text, parse
from serving.auth import KeyRing
from serving.batch import default_as_of, run_batch
from serving.monitoring.monitor import judge_runs
from serving.risk import Bands
from serving.store.score_store import ScoreStore
from training.model import ChurnRiskModel

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")


def keyring_of_test_keys() -> KeyRing:
    return KeyRing.from_keys(",".join(f"{role}:{key}" for role, key in KEYS.items()))


def scored_store(path: Path, sources: Sources, model: ChurnRiskModel) -> ScoreStore:
    """A SQLite store holding two monthly runs of the simulated base, so the list has a
    "change since the previous run" and accounts have a score history, both judged as
    `churnlens score` judges them (for the Model page), with the shipped alert rules
    evaluated after each run (for the Alerts inbox)."""
    store = ScoreStore(f"sqlite:///{path}")
    latest = default_as_of(sources)
    earlier = (latest.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    rules = parse(default_text(), "the shipped alert rules")
    for as_of in (earlier, latest):
        run = run_batch(sources, model, "1", store, as_of, Bands())
        AlertBook(store).evaluate_run(rules, run.run_id)
    judge_runs(store, store.runs(limit=2), sources, lambda _: model.profile, Bands())
    return store


def all_api_rows(get: Callable[[dict[str, Any]], dict[str, Any]],
                 params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item of GET /v1/accounts for `params`, page by page; `get` calls the API."""
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        body = get({**params, "page": page, "per_page": 200})
        rows += body["items"]
        if page >= -(-body["total"] // 200):
            return rows
        page += 1


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def assert_export_matches(exported: list[dict[str, str]], api: list[dict[str, Any]]) -> None:
    """CSV rows equal the API's items, in order, value for value (floats exactly)."""
    assert [r["account_id"] for r in exported] == [a["account_id"] for a in api]
    for row, item in zip(exported, api, strict=True):
        for column in ("name", "csm_owner", "segment", "band"):
            assert row[column] == item[column], (column, row, item)
        assert row["top_reason"] == (item["top_reason"] or "")
        assert row["renewal_date"] == (item["renewal_date"] or "")
        for column in ("arr", "probability", "arr_at_risk"):
            assert float(row[column]) == item[column], (column, row, item)
        assert (row["delta"] == "") == (item["delta"] is None)
        if item["delta"] is not None:
            assert float(row["delta"]) == item["delta"]


_ROW_ID = re.compile(r'<tr data-href="/accounts/([^"?]+)\?')


def listed_ids(html: str) -> list[str]:
    """Account ids of the ranked table's rows, in page order."""
    from urllib.parse import unquote

    return [unquote(m) for m in _ROW_ID.findall(html)]


class _Reasons(HTMLParser):
    """(feature, family, sentence) of each reason on an account page, in page order."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str]] = []
        self._open: tuple[str, str] | None = None
        self._in_text = False
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "li" and "data-feature" in values:
            self._open = (values["data-feature"] or "", values.get("data-family") or "")
        elif tag == "p" and self._open and values.get("class") == "reason-text":
            self._in_text, self._text = True, ""

    def handle_data(self, data: str) -> None:
        if self._in_text:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "p" and self._in_text and self._open:
            self.found.append((*self._open, self._text.strip()))
            self._in_text, self._open = False, None


def page_reasons(html: str) -> list[tuple[str, str, str]]:
    parser = _Reasons()
    parser.feed(html)
    return parser.found


def assert_reasons_match(on_page: list[tuple[str, str, str]], api_reasons: list[dict]) -> None:
    """The page shows exactly the API's reasons, each with its family and sentence, and
    within a family in the API's order (strongest first)."""
    expected = [(r["feature"], r["family"], r["text"]) for r in api_reasons]
    assert sorted(on_page) == sorted(expected)
    for family in {r[1] for r in expected}:
        assert [r for r in on_page if r[1] == family] == [r for r in expected
                                                          if r[1] == family]


_CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


def form_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF_FIELD.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def post_form(client: Any, path: str, data: dict[str, str], page: str = "/sign-in") -> Any:
    """POST a page form as a browser would: open `page` first (its token and cookie); a
    page that redirects (sign-in when signed in) leaves the token of the cookie."""
    opened = client.get(page)
    token = form_token(opened.text) if opened.status_code == 200 else client.cookies.get(
        "churnlens_csrf")
    return client.post(path, data={**data, "csrf": token or ""})


@contextlib.contextmanager
def served_app(home: Path, sources: Sources, model: ChurnRiskModel) -> Iterator[str]:
    """A real uvicorn server of the whole app on a scored store in `home`; yields its URL."""
    from live_server import live_server

    from features.settings import Settings
    from serving.api import create_app
    from serving.model_holder import ModelHolder

    store = scored_store(home / "scores.db", sources, model)
    app = create_app(Settings(home=home / "workspace", reload_interval=0),
                     holder=ModelHolder(lambda: (model, "1")), store=store,
                     keyring=keyring_of_test_keys())
    try:
        with live_server(app) as url:
            yield url
    finally:
        store.dispose()
