"""The CSM page in a real browser: Debian's Chromium, headless, driven by Playwright.

The app (API and page, around the trained test model and a store of two scoring runs)
runs under a real uvicorn server on 127.0.0.1 in a background thread. Screenshots of the
list and of an account page go to tests/artifacts/ (ignored by git).
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_keys import KEYS, auth
from web_support import (
    ARTIFACTS,
    CHROMIUM,
    all_api_rows,
    assert_export_matches,
    assert_reasons_match,
    csv_rows,
    served_app,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's `chromium` package "
                "(apt-get install chromium) to run the browser tests", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 900}


@pytest.fixture(scope="module")
def base_url(tmp_path_factory, simulated_sources, trained_model) -> Iterator[str]:
    """A real uvicorn server with the whole app, on 127.0.0.1, for this module's tests."""
    with served_app(tmp_path_factory.mktemp("browser"), simulated_sources,
                    trained_model) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=base_url, viewport=LAPTOP, accept_downloads=True)
    try:
        yield context.new_page()
    finally:
        context.close()


def api(base_url: str, path: str, params: dict[str, Any] | None = None) -> Any:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    request = urllib.request.Request(f"{base_url}{path}{query}", headers=auth("viewer"))
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def listed_ids(page: Page) -> list[str]:
    return [urllib.parse.unquote(href.split("/accounts/")[1].split("?")[0])
            for href in page.locator("table.accounts tbody tr").evaluate_all(
                "rows => rows.map(r => r.dataset.href)")]


def sign_in(page: Page, role: str = "viewer") -> None:
    page.goto("/")
    page.wait_for_url(lambda url: "/sign-in" in url)
    page.get_by_label("API key").fill(KEYS[role])
    page.get_by_label("API key").press("Enter")


def screenshot(page: Page, name: str, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=full_page)
    return path


def test_an_unsigned_request_is_redirected_to_sign_in(page: Page, base_url: str):
    response = page.goto("/accounts/A00001")
    assert response is not None and response.request.redirected_from is not None
    assert response.request.redirected_from.url == f"{base_url}/accounts/A00001"
    assert page.url.startswith(f"{base_url}/sign-in?next=")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Sessions also end when the churnlens server restarts")).to_be_visible()


def test_a_scorer_key_cannot_sign_in(page: Page):
    sign_in(page, "scorer")
    expect(page.get_by_role("alert")).to_contain_text("This is a scorer key")
    assert "/sign-in" in page.url
    assert [c["name"] for c in page.context.cookies()] == ["churnlens_csrf"]  # no session
    page.goto("/")
    assert "/sign-in" in page.url


def test_a_csm_signs_in_filters_sorts_opens_an_account_exports_and_signs_out(
        page: Page, base_url: str, tmp_path: Path):
    sign_in(page)
    expect(page.get_by_role("heading", name="Accounts by renewal risk")).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "churnlens_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["expires"] > 0
    assert KEYS["viewer"] not in page.content() and KEYS["viewer"] not in page.url
    first = api(base_url, "/v1/accounts", {"per_page": 50})
    assert listed_ids(page) == [a["account_id"] for a in first["items"]]
    expect(page.locator("#quarter li.status")).to_have_count(4)  # renewals by status
    screenshot(page, "web-list.png", full_page=False)

    # Filter: the top account's owner, high risk only.
    owner = first["items"][0]["csm_owner"]
    page.get_by_label("CSM owner").select_option(owner)
    page.get_by_label("Risk band").select_option("high")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(lambda url: "band=high" in url and "owner=" in url)
    assert "segment=" not in page.url  # empty fields stay out of the URL
    mine = {"csm_owner": owner, "band": "high"}
    expected = api(base_url, "/v1/accounts", {**mine, "per_page": 50})["items"]
    assert listed_ids(page) == [a["account_id"] for a in expected]

    # Sort by ARR at risk from the column header; the filters stay.
    page.get_by_role("link", name="ARR / at risk").click()
    page.wait_for_url(lambda url: "sort=arr_at_risk" in url)
    mine["sort"] = "arr_at_risk"
    by_money = api(base_url, "/v1/accounts", {**mine, "per_page": 50})["items"]
    assert listed_ids(page) == [a["account_id"] for a in by_money]
    expect(page.get_by_label("Sort by")).to_have_value("arr_at_risk")

    # Export the filtered list: the same rows as the API, every page of them.
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.startswith("churnlens-accounts-") and saved.suffix == ".csv"
    assert_export_matches(csv_rows(saved.read_text(encoding="utf-8")),
                          all_api_rows(lambda p: api(base_url, "/v1/accounts", p), mine))

    # Open the top account (the first link in the table) and read its reasons.
    top = by_money[0]
    page.locator("table.accounts tbody tr").first.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(top["name"])
    detail = api(base_url, f"/v1/accounts/{urllib.parse.quote(top['account_id'])}")
    on_page = [(li.get_attribute("data-feature") or "", li.get_attribute("data-family") or "",
                li.locator(".reason-text").inner_text().strip())
               for li in page.locator("li.reason").all()]
    assert_reasons_match(on_page, detail["reasons"])
    expect(page.locator("#model-version")).to_have_text(detail["model_version"])
    expect(page.locator("svg.chart circle")).to_have_count(len(detail["history"]))
    evidence = page.locator("#evidence")
    expect(evidence.locator("rect.usage-bar")).to_have_count(len(detail["evidence"]["usage"]))
    expect(evidence.locator("#open-tickets tbody tr")).to_have_count(
        len(detail["evidence"]["open_tickets"]))
    screenshot(page, "web-account.png")
    page.locator(".crumbs").get_by_role("link", name="Accounts").click()  # back to the list
    page.wait_for_url(lambda url: "sort=arr_at_risk" in url and "band=high" in url)
    assert listed_ids(page) == [a["account_id"] for a in by_money]

    # Sign out: the session is gone and pages send you to sign-in again.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_contain_text("You have signed out")
    assert not [c for c in page.context.cookies() if c["name"] == "churnlens_session"]
    page.goto("/")
    assert "/sign-in" in page.url


def test_the_page_works_by_keyboard_and_on_a_phone(browser: Browser, base_url: str):
    context = browser.new_context(base_url=base_url, viewport=PHONE, is_mobile=True,
                                  has_touch=True)
    try:
        page = context.new_page()
        sign_in(page, "admin")
        expect(page.get_by_role("heading", name="Accounts by renewal risk")).to_be_visible()
        # Nothing wider than the screen: the table turns into one card per account.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        card = page.locator("table.accounts tbody tr").first.bounding_box()
        assert card is not None and card["width"] <= PHONE["width"]
        header = page.locator("table.accounts thead").bounding_box()
        assert header is not None and header["width"] <= 1  # kept for screen readers only
        screenshot(page, "web-list-phone.png", full_page=False)
        # The first Tab reaches the skip link, which moves focus to the content.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        # The filters start folded away on a phone, one key press from view.
        expect(page.get_by_label("CSM owner")).to_be_hidden()
        page.locator("summary", has_text="Filter and sort").focus()
        page.keyboard.press("Enter")
        expect(page.get_by_label("CSM owner")).to_be_visible()
        # A keyboard user reaches an account's link and opens it with Enter.
        link = page.locator("table.accounts tbody tr").first.get_by_role("link")
        link.focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Why this risk")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        screenshot(page, "web-account-phone.png")
    finally:
        context.close()


def admin_api(base_url: str, path: str) -> Any:
    request = urllib.request.Request(f"{base_url}{path}", headers=auth("admin"))
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_an_admin_opens_the_model_page_and_reads_the_newest_verdict(page: Page,
                                                                      base_url: str):
    sign_in(page, "admin")
    expect(page.get_by_role("heading", name="Accounts by renewal risk")).to_be_visible()
    page.get_by_role("link", name="Model", exact=True).click()
    page.wait_for_url(f"{base_url}/model")
    judged = admin_api(base_url, "/v1/monitoring")["runs"]
    newest = judged[0]
    expect(page.locator("#verdict .verdict-level")).to_have_text(newest["verdict"])
    expect(page.locator("#drift-table tbody tr")).to_have_count(
        min(15, len(newest["drift"]["features"])))
    first = newest["drift"]["features"][0]
    expect(page.locator("#drift-table tbody tr").first).to_have_attribute("data-feature",
                                                                          first["name"])
    expect(page.locator("#realised-table tbody tr[data-run]")).to_have_count(len(judged))
    expect(page.locator("#drift-table svg.spark").first).to_be_visible()
    screenshot(page, "web-model.png")


def test_a_viewer_sees_no_model_page(page: Page):
    sign_in(page)
    expect(page.get_by_role("heading", name="Accounts by renewal risk")).to_be_visible()
    expect(page.get_by_role("link", name="Model", exact=True)).to_have_count(0)
    page.goto("/model")
    expect(page.get_by_role("heading", name="The Model page is for admins")).to_be_visible()


def test_a_csm_works_through_the_alerts_inbox(page: Page, base_url: str):
    sign_in(page)
    expect(page.get_by_role("heading", name="Accounts by renewal risk")).to_be_visible()
    page.get_by_role("link", name="Alerts", exact=True).click()
    page.wait_for_url(f"{base_url}/alerts")
    listed = api(base_url, "/v1/alerts", {"per_page": 50})
    assert listed["total"] > 3, "the scored store should hold alerts"
    expect(page.locator("#alert-count")).to_contain_text(f"{listed['total']:,} alerts")
    rows = page.locator("table.alerts tbody tr")
    assert rows.evaluate_all("rows => rows.map(r => r.id)") == [
        f"alert-{a['id']}" for a in listed["alerts"]]
    screenshot(page, "web-alerts.png", full_page=False)
    first, second, third = (a["id"] for a in listed["alerts"][:3])

    page.locator(f"#alert-{first}").get_by_role("button", name="Acknowledge").click()
    page.wait_for_url(f"{base_url}/alerts")
    expect(page.locator(f"#alert-{first} .alert-state")).to_contain_text("Acknowledged")

    row = page.locator(f"#alert-{second}")
    row.get_by_label("Snooze until").fill("2999-01-01")
    row.get_by_role("button", name="Snooze").click()
    expect(page.locator(f"#alert-{second} .alert-state")).to_contain_text("until 1 Jan 2999")

    row = page.locator(f"#alert-{third}")
    row.get_by_label("Outcome").select_option("saved")
    row.get_by_role("button", name="Resolve").click()
    expect(page.locator(f"#alert-{third}")).to_have_count(0)  # no longer unresolved
    rule = next(a["rule"] for a in listed["alerts"] if a["id"] == third)
    # columns: alerts, renewal known, churned, lift, then the outcomes, "saved" first
    expect(page.locator(f'#outcomes tr[data-rule="{rule}"] td').nth(4)).to_have_text("1")

    states = {a["id"]: (a["state"], a["outcome"]) for a in api(
        base_url, "/v1/alerts", {"state": "resolved", "per_page": 200})["alerts"]}
    assert states[third] == ("resolved", "saved")
    assert {a["id"]: a["state"] for a in api(base_url, "/v1/alerts", {"per_page": 200})[
        "alerts"]}[first] == "acknowledged"

    # The account page shows its open alerts and leads back to them.
    alerted = next(a for a in listed["alerts"] if a["id"] == first)
    page.goto(f"/accounts/{urllib.parse.quote(alerted['account_id'])}")
    section = page.locator("#account-alerts")
    expect(section).to_contain_text(alerted["title"])
    section.get_by_role("link", name="Act on them in the Alerts inbox").click()
    page.wait_for_url(lambda url: "/alerts?account=" in url)
    shown = page.locator("table.alerts tbody tr").evaluate_all(
        "rows => rows.map(r => r.id)")
    on_account = api(base_url, "/v1/alerts", {"account_id": alerted["account_id"]})
    assert shown == [f"alert-{a['id']}" for a in on_account["alerts"]]
