"""The alert inbox over HTTP: list early warnings and act on them.

A book key sees and acts on its CSMs' alerts only (an alert outside the book is a 404
like an unknown one); admins and keys without a book see every alert, data alerts
included. Every action goes to the audit log with who did it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Path, Query, Request

from serving.alerts.book import AlertBook, AlertFilter
from serving.auth import Principal, Role, require
from serving.http.errors import error_responses
from serving.http.schemas import AlertNote, AlertOut, AlertPage, ResolveBody, SnoozeBody
from serving.store.audit import AuditEvent, AuditLog

Viewer = Annotated[Principal, Depends(require(Role.viewer))]
AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]
_ACTED = {200: {"model": AlertOut}, **error_responses(400, 401, 403, 404, 409, 422, 503)}


def install_alert_api(app: FastAPI) -> None:
    """Add `GET /v1/alerts` and `POST /v1/alerts/{id}/ack|snooze|resolve` to the app."""

    @app.get("/v1/alerts", tags=["alerts"],
             responses={200: {"model": AlertPage}, **error_responses(401, 403, 422, 503)})
    def alerts(request: Request, who: Viewer,
               owner: str | None = None,
               state: Literal["unresolved", "open", "acknowledged", "snoozed",
                              "resolved"] = "unresolved",
               rule: Annotated[str | None, Query(max_length=40)] = None,
               severity: Literal["info", "warning", "critical"] | None = None,
               account_id: Annotated[str | None, Query(max_length=200)] = None,
               page: Annotated[int, Query(ge=1, le=10_000)] = 1,
               per_page: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
        """Alerts, most severe first, then riskiest, then newest; filtered and paged
        (default: those not yet resolved). `owner` is whom an alert is for (the
        account's CSM unless its rule names one)."""
        found, total = _book(request).list(
            AlertFilter(owner=owner, state=state, rule=rule, severity=severity,
                        account_id=account_id, scope=who.scope), page, per_page)
        return {"alerts": [a.to_json() for a in found], "total": total, "page": page,
                "per_page": per_page}

    @app.post("/v1/alerts/{alert_id}/ack", tags=["alerts"], responses=_ACTED)
    def ack(request: Request, alert_id: AlertId, who: Viewer,
            body: AlertNote | None = None) -> dict[str, Any]:
        """Acknowledge an alert: someone is on it."""
        return _act(request, who, alert_id, "ack", note=body.note if body else "")

    @app.post("/v1/alerts/{alert_id}/snooze", tags=["alerts"], responses=_ACTED)
    def snooze(request: Request, alert_id: AlertId, who: Viewer,
               body: SnoozeBody) -> dict[str, Any]:
        """Snooze an alert for some days; it opens again on the day it is snoozed until."""
        until = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=body.days)
        return _act(request, who, alert_id, "snooze", until=until, note=body.note)

    @app.post("/v1/alerts/{alert_id}/resolve", tags=["alerts"], responses=_ACTED)
    def resolve(request: Request, alert_id: AlertId, who: Viewer,
                body: ResolveBody) -> dict[str, Any]:
        """Resolve an alert with its outcome: saved, churned, false_alarm or no_action."""
        return _act(request, who, alert_id, "resolve", outcome=body.outcome, note=body.note)


def _book(request: Request) -> AlertBook:
    return AlertBook(request.app.state.store)


def _act(request: Request, who: Principal, alert_id: int, action: str,
         **options: Any) -> dict[str, Any]:
    book = _book(request)
    alert = book.visible(alert_id, who.scope)
    done = book.act(alert_id, action, **options)
    AuditLog(request.app.state.store).record(AuditEvent(
        f"alert_{action}", "ok", who.key_id, who.role.value, who.label,
        f"alert {alert_id} ({alert.rule}, account {alert.account_id or 'none'})",
        request.client.host if request.client else ""))
    return done.to_json()
