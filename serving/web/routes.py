"""The CSM page: ranked accounts, reasons in words, score history and CSV export.

Served by the API's own app (`install_web(app, settings)` in `create_app`) as
server-rendered Jinja2 templates with a stylesheet and a few lines of script from
`serving/web/static/`, so it works offline and without JavaScript. It reads the same score
store and key ring as the API (`app.state.store`, `app.state.keyring`): the list is the
store's paged query, so a 10,000-account run costs a handful of indexed queries a page.

People sign in with a viewer or admin key, exchanged for a session cookie
(`serving.web.session` explains the cookie and its expiry); a book key's session sees only
its CSMs' accounts, and another book's account page is a 404 like an unknown one. Both
POST forms carry a CSRF token (`serving.web.csrf`) and failed sign-ins are slowed down
(`serving.web.throttle`). Every other page redirects (303) to sign-in without a valid
session. Every page sends a Content-Security-Policy (nothing from elsewhere, no framing),
a Referrer-Policy and no-store caching (`PAGE_HEADERS`).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from features.errors import ChurnlensError
from features.settings import Settings
from serving.alerts.book import AlertBook, AlertFilter
from serving.auth import (
    KeyNoLongerValidError,
    NotAuthenticatedError,
    PermissionDeniedError,
    Principal,
    Role,
    authenticate,
    current_ring,
    presented_key_id,
)
from serving.risk import Bands
from serving.store.audit import AuditEvent, AuditLog
from serving.store.models import MAX_PER_PAGE
from serving.store.score_store import ScoreStore
from serving.store.summary import BookFigures
from serving.web import charts, csrf, model_page, views
from serving.web.jinja import page_templates
from serving.web.session import (
    SESSION_COOKIE,
    SESSION_SECONDS,
    SessionSigner,
    SignInRequired,
    WebSession,
    clear_session_cookie,
    safe_next,
    set_session_cookie,
)
from serving.web.throttle import SignInThrottle

log = logging.getLogger(__name__)

MODEL_PAGE_RUNS = 24  # judged runs the Model page shows

HERE = Path(__file__).parent
MAX_KEY_LENGTH = 1_000
HISTORY_RUNS = 24
# Pages load only their own stylesheet, script and inline SVG; nothing from elsewhere.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclasses.dataclass
class WebPage:
    """What the page's routes share, kept on `app.state.web`."""

    templates: Jinja2Templates
    sessions: SessionSigner
    bands: Bands
    figures: BookFigures | None = None  # made for the store the lifespan opens
    throttle: SignInThrottle = dataclasses.field(default_factory=SignInThrottle)

    def figures_of(self, store: ScoreStore) -> BookFigures:
        if self.figures is None or self.figures.store is not store:
            self.figures = BookFigures(store)
        return self.figures


class PageRoute(APIRoute):
    """Routes whose failures are pages: no session → sign-in; a churnlens error → its
    message on an error page with its status (the API's JSON handlers stay for /v1)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired as exc:
                return RedirectResponse(
                    "/sign-in?" + urlencode({"next": exc.next_path}), status_code=303)
            except ChurnlensError as exc:
                return render(request, "error.html", {"heading": "Cannot show this page",
                                                    "message": exc.message, "back": "/"},
                               exc.http_status, _session_of(request))

        return page_handler


router = APIRouter(route_class=PageRoute, include_in_schema=False)


def install_web(app: FastAPI, settings: Settings) -> None:
    """Mount the CSM page and its static files on the API's app."""
    secret = settings.session_secret
    app.state.web = WebPage(page_templates(),
                            SessionSigner(secret.get_secret_value().encode() if secret else None),
                            Bands(high=settings.band_high, medium=settings.band_medium))
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(router)


def _web(request: Request) -> WebPage:
    web: WebPage = request.app.state.web
    return web


def store_of(request: Request) -> ScoreStore:
    store: ScoreStore = request.app.state.store
    return store


def render(request: Request, template: str, context: dict[str, Any],
            status_code: int = 200, session: WebSession | None = None) -> Response:
    response = _web(request).templates.TemplateResponse(
        request, template, {"session": session, "csrf": csrf.token(request), **context},
        status_code=status_code)
    response.headers.update(PAGE_HEADERS)
    csrf.remember(request, response)
    return response


def audit(request: Request, action: str, outcome: str, who: Principal | None = None, *,
           key: str = "", target: str = "") -> None:
    """Record a sign-in, sign-out, export or alert action; a refused key is named by its
    id only."""
    presented = who.key_id if who else (presented_key_id(key) if key else "")
    AuditLog(store_of(request)).record(AuditEvent(
        action, outcome, presented, who.role.value if who else "", who.label if who else "",
        target, request.client.host if request.client else ""))


def _session_of(request: Request) -> WebSession | None:
    return _web(request).sessions.read(request.cookies.get(SESSION_COOKIE),
                                       current_ring(request.app.state))


def signed_in(request: Request) -> WebSession:
    """The page's session, or SignInRequired (a redirect to sign-in and back here)."""
    session = _session_of(request)
    if session is None:
        query = request.url.query
        raise SignInRequired(request.url.path + (f"?{query}" if query else ""))
    return session


Session = Annotated[WebSession, Depends(signed_in)]


# -- sign-in and sign-out ---------------------------------------------------------------------

@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request,
                 next_path: Annotated[str | None, Query(alias="next")] = None,
                 signed_out: str | None = None) -> Response:
    target = safe_next(next_path)
    if _session_of(request) is not None:
        return RedirectResponse(target, status_code=303)
    notice = "You have signed out." if signed_out else None
    return _sign_in_form(request, target, notice=notice)


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, key: Annotated[str, Form()] = "",
            next_path: Annotated[str, Form(alias="next")] = "/",
            token: Annotated[str, Form(alias=csrf.CSRF_FIELD)] = "") -> Response:
    """Exchange a viewer or admin key for a session cookie; the key goes no further.

    Repeated failures from one address are slowed down (`serving.web.throttle`): while
    it is locked out the key is not even checked.
    """
    target = safe_next(next_path)
    client = request.client.host if request.client else ""
    throttle = _web(request).throttle
    wait = throttle.wait(client)
    if wait > 0:
        seconds = max(1, round(wait))
        response = _sign_in_form(request, target, status_code=429, error=(
            f"Too many failed sign-ins from your address. Wait {seconds} seconds, then "
            "sign in again."))
        response.headers["Retry-After"] = str(seconds)
        return response
    if not csrf.is_genuine(request, token):
        return _sign_in_form(request, target, status_code=403, error=(
            "This sign-in form expired or was sent from another site. Sign in again here."))
    ring = current_ring(request.app.state)
    key = key.strip()
    try:
        if len(key) > MAX_KEY_LENGTH:
            raise NotAuthenticatedError("key too long")
        principal = authenticate(ring, key or None, {Role.viewer})
    except NotAuthenticatedError as exc:
        if isinstance(exc, KeyNoLongerValidError):
            error = exc.message[0].upper() + exc.message[1:] + "."
        elif not ring:
            error = ("No API keys are configured on this server, so nobody can sign in. "
                     "Ask the operator to set CHURNLENS_API_KEYS_FILE (see "
                     "`churnlens keys --help`).")
        elif not key:
            error = "Enter your API key to sign in."
        else:
            error = ("That key is not recognised. Check that you copied the whole key, "
                     "or ask your churnlens operator for a viewer key.")
        audit(request, "sign_in", "refused", key=key, target=target)
        throttle.failed(client)
        return _sign_in_form(request, target, error=error, status_code=401)
    except PermissionDeniedError:
        error = ("This is a scorer key: apps use it to request scores, and it cannot open "
                 "this page. Sign in with a viewer or admin key.")
        audit(request, "sign_in", "refused", key=key, target=target)
        return _sign_in_form(request, target, error=error, status_code=403)
    throttle.succeeded(client)
    log.info("CSM page sign-in with %s key %s", principal.role, principal.key_id)
    audit(request, "sign_in", "ok", principal, target=target)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, _web(request).sessions.issue(principal))
    return response


def _sign_in_form(request: Request, target: str, *, error: str | None = None,
                  notice: str | None = None, status_code: int = 200) -> Response:
    return render(request, "sign_in.html",
                   {"next": target, "error": error, "notice": notice,
                    "session_hours": SESSION_SECONDS // 3600}, status_code)


@router.post("/sign-out")
def sign_out(request: Request,
             token: Annotated[str, Form(alias=csrf.CSRF_FIELD)] = "") -> Response:
    session = _session_of(request)
    if not csrf.is_genuine(request, token):
        return render(request, "error.html", {
            "heading": "Not signed out",
            "message": "The sign-out form expired or was sent from another site; use the "
                       "Sign out button on this page.", "back": "/"}, 403, session)
    if session is not None:
        audit(request, "sign_out", "ok", session.principal)
    _web(request).sessions.end(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/sign-in?signed_out=1", status_code=303)
    clear_session_cookie(response, request)
    return response


# -- the ranked list ----------------------------------------------------------------------------

@router.get("/", response_class=HTMLResponse)
def accounts_page(request: Request, session: Session, sort: str | None = None,
                  owner: str | None = None, segment: str | None = None,
                  band: str | None = None, renewal: str | None = None,
                  page: str | None = None) -> Response:
    """The latest run's accounts, ranked and filtered, 50 a page, with the book's figures."""
    filters, problems = views.parse_filters(sort, owner, segment, band, renewal, page)
    store = store_of(request)
    scope = session.principal.scope
    listed = store.ranked(filters.query(scope))
    context: dict[str, Any] = {"filters": filters, "problems": problems, "listed": listed,
                               "bands": _web(request).bands}
    if listed.run is not None:
        run = listed.run
        figures = _web(request).figures_of(store)
        context |= {
            "summary": figures.summary(run, csm_owner=filters.owner, segment=filters.segment,
                                       scope=scope),
            "known_through": run.as_of - dt.timedelta(days=1),  # as_of itself is not seen
            "choices": figures.choices(run, scope),
            # A book key learns its own book's size, not the whole base's.
            "scored": run.rows if scope is None else figures.summary(run, scope=scope).accounts,
            "has_previous": len(store.runs(limit=2)) > 1,
            # The figures describe the book (owner and segment); their links keep only those.
            "book": dataclasses.replace(filters, band=None, renewal_within_days=None, page=1),
            "back": quote(filters.url(), safe=""),
            "export_url": filters.url("/export.csv", page=1),
        }
    return render(request, "accounts.html", context, 422 if problems else 200, session)


@router.get("/export.csv")
def export_csv(request: Request, session: Session, sort: str | None = None,
               owner: str | None = None, segment: str | None = None,
               band: str | None = None, renewal: str | None = None) -> Response:
    """Every account of the current filtered list (all pages, one run) as CSV."""
    filters, problems = views.parse_filters(sort, owner, segment, band, renewal)
    if problems:
        return Response(" ".join(problems) + "\n", status_code=422,
                        media_type="text/plain; charset=utf-8", headers=PAGE_HEADERS)
    store = store_of(request)
    query = filters.query(session.principal.scope, page=1, per_page=MAX_PER_PAGE)
    listed = store.ranked(query)
    items = list(listed.items)
    if listed.run is not None:
        pinned = dataclasses.replace(query, run_id=listed.run.id)  # pages of one run only
        for number in range(2, listed.pages + 1):
            items += store.ranked(dataclasses.replace(pinned, page=number)).items
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(views.export_rows(items))
    day = listed.run.as_of.isoformat() if listed.run else "none"
    log.info("CSM page export of %d accounts by key %s", len(items), session.key_id)
    audit(request, "export", "ok", session.principal,
           target=f"{len(items)} accounts: {filters.url('/export.csv', page=1)}")
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8", headers={
        **PAGE_HEADERS,
        "Content-Disposition": f'attachment; filename="churnlens-accounts-{day}.csv"'})


# -- one account ----------------------------------------------------------------------------------

@router.get("/accounts/{account_id}", response_class=HTMLResponse)
def account_page(request: Request, account_id: str, session: Session,
                 back: str | None = None) -> Response:
    """An account's risk, its reasons by family, the evidence behind them, its score history
    and the model behind it."""
    back_to = safe_next(back)
    if back_to != "/" and not back_to.startswith("/?"):
        back_to = "/"
    store = store_of(request)
    detail = store.account(account_id, history=HISTORY_RUNS)
    if detail is None or not session.principal.sees(detail.latest.csm_owner):
        message = (f"No stored score for account “{account_id}”. Check the id, or run "
                   f"`churnlens score` if the account is new.")
        return render(request, "error.html", {"heading": "Account not found",
                                               "message": message, "back": back_to},
                       404, session)
    bands = _web(request).bands
    current = request.app.state.holder.current
    return render(request, "account.html", {
        "detail": detail, "account": detail.latest, "back": back_to,
        "families": views.family_views(detail.reasons, detail.families),
        "change": views.change_text(detail.latest, detail.reasons),
        "chart": charts.history_chart(detail.history, bands), "bands": bands,
        "latest_run": store.latest_run(),
        "serving_version": current.version if current is not None else None,
        "days_to_renewal": views.days_until(detail.latest.renewal_date, detail.as_of),
        "evidence": detail.evidence,
        "usage": charts.usage_trend(detail.evidence.usage) if detail.evidence else None,
        "alerts": AlertBook(store).list(AlertFilter(account_id=account_id, state="unresolved",
                                                    scope=session.principal.scope))[0],
    }, session=session)


# -- the model ------------------------------------------------------------------------------------

@router.get("/model", response_class=HTMLResponse)
def model_page_view(request: Request, session: Session) -> Response:
    """For data scientists and admins: the serving model, the newest run's verdict and drift,
    realised performance over the judged runs (`serving.web.model_page`)."""
    if session.role is not Role.admin:
        return render(request, "error.html", {
            "heading": "The Model page is for admins",
            "message": "Drift and realised performance cover the whole base, so they are "
                       "shown to admin keys only. Sign in with an admin key to see them.",
            "back": "/"}, 403, session)
    current = request.app.state.holder.current
    view = model_page.model_view(current.model if current is not None else None,
                                 current.version if current is not None else None,
                                 store_of(request).monitoring.judgements(MODEL_PAGE_RUNS))
    return render(request, "model.html", {"view": view}, session=session)
