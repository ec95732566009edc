"""The Alerts inbox of the CSM page: early warnings to act on, and how the rules did.

A book key's session sees its CSMs' alerts (the signed-in CSM's own); a key without a
book sees every alert, data alerts included, and can narrow them by owner. Each alert
can be acknowledged, snoozed to a later day or resolved with its outcome from the page
(POST forms with a CSRF token, each action in the audit log); beside the list, per rule,
how often the renewals its alerts warned of churned against the base rate, and how CSMs
resolved them.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from serving.alerts.book import (
    ACTIONS,
    OUTCOMES,
    STATES,
    AlertBook,
    AlertFilter,
)
from serving.alerts.track_record import track_record
from serving.web import csrf
from serving.web.routes import PageRoute, Session, audit, render, store_of
from serving.web.session import safe_next

PER_PAGE = 50
SNOOZE_DAYS = 7  # the date the snooze form offers
router = APIRouter(route_class=PageRoute, include_in_schema=False)


def install_alert_pages(app: FastAPI) -> None:
    """Add /alerts and its action form to the CSM page (after `install_web`)."""
    app.include_router(router)


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, session: Session, state: str = "unresolved",
                owner: str | None = None, rule: str | None = None,
                severity: str | None = None, account: str | None = None,
                page: str | None = None) -> Response:
    """Alerts not yet resolved (or of one state), most severe and riskiest first, 50 a
    page."""
    problems = []
    if state not in ("unresolved", *STATES):
        problems.append(f"Unknown state “{state}”; showing alerts not yet resolved.")
        state = "unresolved"
    number = int(page) if page is not None and page.isdigit() else 1
    if page is not None and not page.isdigit():
        problems.append(f"“{page}” is not a page number; showing the first page.")
    number = max(1, min(number, 10_000))
    scope = session.principal.scope
    book = AlertBook(store_of(request))
    where = AlertFilter(owner=owner or None, state=state, rule=rule or None,
                        severity=severity or None, account_id=account or None, scope=scope)
    found, total = book.list(where, number, PER_PAGE)
    record, base_rate = track_record(store_of(request), scope)
    here = str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")

    def page_url(to: int) -> str:
        moved = request.url.include_query_params(page=to)
        return f"{moved.path}?{moved.query}"

    today = dt.datetime.now(dt.UTC).date()  # snoozes count in UTC days, as the store does

    return render(request, "alerts.html", {
        "alerts": found, "total": total, "page": number,
        "pages": max(1, -(-total // PER_PAGE)), "where": where, "problems": problems,
        "states": ("unresolved", *STATES), "outcomes": OUTCOMES[:-1],
        "snooze_until": today + dt.timedelta(days=SNOOZE_DAYS),
        "tomorrow": today + dt.timedelta(days=1),
        "record": record, "base_rate": base_rate, "all_outcomes": OUTCOMES, "here": here,
        "page_url": page_url,
    }, 422 if problems else 200, session)


@router.post("/alerts/{alert_id}")
def act_on_alert(request: Request, alert_id: int, session: Session,
                 action: Annotated[str, Form()], until: Annotated[str, Form()] = "",
                 outcome: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "",
                 back: Annotated[str, Form()] = "/alerts",
                 token: Annotated[str, Form(alias=csrf.CSRF_FIELD)] = "") -> Response:
    """Acknowledge, snooze or resolve one alert, then go back to the list it was on."""
    target = safe_next(back)

    def refused(heading: str, message: str, status: int) -> Response:
        return render(request, "error.html", {"heading": heading, "message": message,
                                              "back": target}, status, session)

    if not csrf.is_genuine(request, token):
        return refused("Not saved", "The form expired or was sent from another site; "
                       "act on the alert again from the list.", 403)
    book = AlertBook(store_of(request))
    mine = book.visible(alert_id, session.principal.scope)  # else its error page, 404
    if action not in ACTIONS:
        return refused("Not saved", f"Unknown action “{action}”.", 422)
    options: dict[str, Any] = {"note": note.strip()}
    if action == "snooze":
        try:
            options["until"] = dt.date.fromisoformat(until)
        except ValueError:
            return refused("Not snoozed", "Choose the day the alert should open again.", 422)
    if action == "resolve":
        options["outcome"] = outcome
    book.act(alert_id, action, **options)  # an AlertError becomes its error page
    audit(request, f"alert_{action}", "ok", session.principal,
          target=f"alert {alert_id} ({mine.rule}, account {mine.account_id or 'none'})")
    return RedirectResponse(target, status_code=303)

