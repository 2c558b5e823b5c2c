"""Dashboard pages: overview, persons, one person's timeline and evidence, companies,
funnels.

Pages call the same query functions as the API; operator actions (merge, split, erase)
go through the store's operations, behind a session and a CSRF token.
"""

from __future__ import annotations

import datetime as dt
import hmac
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from threadline.dashboard import funnel_form, session_store
from threadline.dashboard.session import (
    COOKIE,
    LIFETIME_S,
    Session,
    Signer,
    key_fingerprint,
    load_secret,
)
from threadline.errors import HTTPError
from threadline.model import Identifier
from threadline.query import companies as company_queries
from threadline.query import explain as explain_queries
from threadline.query import funnel, insights, persons
from threadline.query.pagination import PageRequest, decode_cursor
from threadline.services import Services, services_of

env = Environment(loader=PackageLoader("threadline.dashboard", "templates"),
                  autoescape=select_autoescape(["html"]))
STATIC = Path(__file__).parent / "static" / "style.css"


def _signer(request: Request) -> Signer:
    svc = services_of(request)
    signer: Signer | None = getattr(request.app.state, "dashboard_signer", None)
    if signer is None:
        signer = Signer(load_secret(svc.settings.data_dir))
        request.app.state.dashboard_signer = signer
    return signer


async def _session(request: Request) -> Session | None:
    """The signed-in session: recorded server-side (not logged out), and its key still one
    of the project's valid secret keys."""
    session = _signer(request).read(request.cookies.get(COOKIE))
    if session is None:
        return None
    store = services_of(request).store
    if not await run_in_threadpool(session_store.session_alive, store, session.session_id,
                                   session.project_id, session.key_fp):
        return None
    valid = [k for k in store.keys_of(session.project_id) if k["kind"] == "secret"
             and (k["expires_at"] is None or k["expires_at"] > dt.datetime.now(dt.UTC).replace(tzinfo=None))]
    # The store keeps sha256(key); the session's fingerprint is its first 24 hex digits.
    if not any(hmac.compare_digest(k["key_hash"][:24], session.key_fp) for k in valid):
        return None
    return session


def _render(request: Request, template: str, session: Session | None, status: int = 200,
            **ctx: Any) -> HTMLResponse:
    csrf = _signer(request).csrf(session) if session else ""
    html = env.get_template(template).render(project=session.project_id if session else None,
                                             csrf=csrf, request=request, **ctx)
    return HTMLResponse(html, status_code=status, headers={
        "Content-Security-Policy": "default-src 'self'; style-src 'self'; img-src 'self' data:; "
                                   "frame-ancestors 'none'; form-action 'self'",
        "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin", "Cache-Control": "no-store"})


def _login_redirect(request: Request) -> RedirectResponse:
    # The query string comes along: a shared funnel URL opens as that funnel after sign-in.
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/login?next=" + quote(target), status_code=303)


async def _form(request: Request, session: Session) -> dict[str, str]:
    """The POSTed form, after checking the origin and the CSRF token (403 otherwise)."""
    origin = request.headers.get("origin") or request.headers.get("referer") or ""
    if origin and urlsplit(origin).netloc != request.url.netloc:
        raise HTTPError(403, "forbidden", "cross-site form post refused")
    form = await request.form()
    data = {k: str(v) for k, v in form.multi_items()}
    if not _signer(request).check_csrf(session, data.get("csrf")):
        raise HTTPError(403, "forbidden", "missing or wrong CSRF token; reload the page and try again")
    return data


async def login(request: Request) -> Response:
    """Sign in with a project's secret key; a client with too many failed attempts is
    answered 429 with ``Retry-After`` (even for the right key, so guessing stops)."""
    if request.method == "GET":
        return _render(request, "login.html", None, next=request.query_params.get("next", "/"))
    origin = request.headers.get("origin") or ""
    if origin and urlsplit(origin).netloc != request.url.netloc:
        raise HTTPError(403, "forbidden", "cross-site form post refused")
    svc = services_of(request)
    client = svc.proxies.client_ip(request)
    form = await request.form()
    key = str(form.get("secret_key", "")).strip()
    nxt = str(form.get("next", "/"))
    if not nxt.startswith("/") or nxt.startswith("//"):
        nxt = "/"
    limit = await run_in_threadpool(session_store.login_limit, svc.store, client)
    if not limit.allowed:
        minutes = max(1, round(limit.retry_after_s / 60))
        page = _render(request, "login.html", None, status=429, next=nxt,
                       error=f"Too many failed sign-ins from your address. Try again in about {minutes} "
                             f"minute{'s' if minutes > 1 else ''}.")
        page.headers["Retry-After"] = str(limit.retry_after_s)
        return page
    info = svc.store.auth(key) if key else None
    if info is None or info.kind != "secret":
        await run_in_threadpool(session_store.record_failure, svc.store, client)
        error = ("That is the project's write key (wk_…): it only sends events. Sign in with the "
                 "secret key (sk_…)." if info is not None else
                 "That is not a valid secret key (sk_…) of any project. Use the secret key printed "
                 "by threadline serve or threadline keys.")
        return _render(request, "login.html", None, status=401, next=nxt, error=error)
    fp = key_fingerprint(key)
    session_id = await run_in_threadpool(session_store.new_session, svc.store, info.project_id, fp,
                                         LIFETIME_S)
    response = RedirectResponse(nxt, status_code=303)
    response.set_cookie(COOKIE, _signer(request).issue(session_id, info.project_id, fp), max_age=LIFETIME_S,
                        httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


async def logout(request: Request) -> Response:
    """End the session server-side (its cookie stops working everywhere) and clear it."""
    session = await _session(request)
    if session is not None:
        await _form(request, session)
        await run_in_threadpool(session_store.end_session, services_of(request).store, session.session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


def _tz(request: Request) -> tuple[str, ZoneInfo]:
    name = request.query_params.get("tz", "UTC")
    try:
        return name, ZoneInfo(name)
    except (KeyError, ValueError):
        return "UTC", ZoneInfo("UTC")


async def overview(request: Request) -> Response:
    """Unique persons per day (resolved beside naive) and the newest persons."""
    session = await _session(request)
    if session is None:
        return _login_redirect(request)
    svc = services_of(request)
    tz_name, tz = _tz(request)
    asked = request.query_params.get("days", "")
    # A hand-edited ?days= that is not a number shows the default range, not an error.
    # (isdigit alone also takes "²" and other scripts' digits, which int() refuses.)
    days = max(1, min(int(asked) if asked.isascii() and asked.isdigit() else 30, 366))
    end = dt.datetime.now(dt.UTC)
    start = end - dt.timedelta(days=days)

    def load() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        cur = svc.store.read()
        series = insights.unique_persons(cur, session.project_id, int(start.timestamp() * 1e6),
                                         int(end.timestamp() * 1e6), "day", tz_name, tz)
        recent, _ = persons.list_persons(cur, session.project_id, PageRequest(10),
                                         svc.store.settings(session.project_id).set_once)
        return series, recent

    series, recent = await run_in_threadpool(load)
    peak = max([1, *(max(d["persons"], d["naive"]) for d in series["data"])])
    return _render(request, "overview.html", session, series=series, recent=recent, peak=peak, days=days)


async def person_list(request: Request) -> Response:
    session = await _session(request)
    if session is None:
        return _login_redirect(request)
    svc = services_of(request)
    search = request.query_params.get("q", "").strip() or None
    cursor = request.query_params.get("cursor")

    def load() -> tuple[list[dict[str, Any]], str | None]:
        after = decode_cursor(cursor, (int, str)) if cursor else None
        return persons.list_persons(svc.store.read(), session.project_id, PageRequest(50, after),
                                    svc.store.settings(session.project_id).set_once, search)

    items, next_cursor = await run_in_threadpool(load)
    return _render(request, "persons.html", session, persons=items, q=search or "", next_cursor=next_cursor)


def _person_page(svc: Services, project: str, person_id: str) -> dict[str, Any] | None:
    cur = svc.store.read()
    ref = persons.resolve(cur, project, person_id)
    if ref is None:
        return None
    p = persons.person(cur, project, ref, svc.store.settings(project).set_once)
    if p is None:
        return None
    events: list[dict[str, Any]] = []
    after: list[Any] | None = None
    while len(events) < 2000:  # the page shows up to 2,000 events
        page, nxt = persons.timeline(cur, project, ref, PageRequest(1000, after))
        events += page
        if not nxt:
            break
        after = decode_cursor(nxt, persons.TIMELINE_CURSOR)
    signup = next((i for i, e in enumerate(events) if e.get("user_id")), None)
    explain = explain_queries.explain(cur, project, ref)
    linked_by: dict[tuple[str, str], dict[str, Any]] = {}
    for link in explain.get("links", []):
        for end in (link["a"], link["b"]):
            linked_by.setdefault((end["kind"], end["value"]), link)
    return {"person": p, "events": events, "signup_index": signup, "explain": explain,
            "linked_by": linked_by, "merged_from": person_id if p["id"] != person_id else None}


async def person_detail(request: Request) -> Response:
    """One person: identifiers with the evidence that linked each, then the timeline with
    the moment of sign-up marked, pre-login events included."""
    session = await _session(request)
    if session is None:
        return _login_redirect(request)
    svc = services_of(request)
    person_id = request.path_params["person_id"]
    ctx = await run_in_threadpool(_person_page, svc, session.project_id, person_id)
    if ctx is None:
        return _render(request, "not_found.html", session, status=404, what=f"person {person_id}")
    return _render(request, "person.html", session, message=request.query_params.get("msg"), **ctx)


async def person_action(request: Request) -> Response:
    """POST merge / split / erase from the person page."""
    session = await _session(request)
    if session is None:
        return _login_redirect(request)
    form = await _form(request, session)
    svc = services_of(request)
    store = svc.store
    person_id = request.path_params["person_id"]
    action = request.path_params["action"]
    try:
        if action == "merge":
            other = form.get("other", "").strip()
            merged = await run_in_threadpool(store.merge_persons, session.project_id, [person_id, other])
            return RedirectResponse(f"/persons/{merged}?msg=merged", status_code=303)
        if action == "split":
            chosen = [Identifier(*k.split(":", 1)) for k in form if k.startswith(("anonymous:", "user:"))]
            result = await run_in_threadpool(store.split_person, session.project_id, person_id, chosen)
            return RedirectResponse(f"/persons/{result[0]}?msg=split", status_code=303)
        if action == "erase":
            if form.get("confirm") != "erase":
                raise HTTPError(422, "validation_error", 'type "erase" to confirm')
            counts = await run_in_threadpool(store.erase_person, session.project_id, person_id)
            return _render(request, "erased.html", session, counts=counts)
    except HTTPError as exc:
        return _render(request, "error.html", session, status=exc.status, error=exc.message,
                       back=f"/persons/{person_id}")
    return _render(request, "not_found.html", session, status=404, what=f"action {action}")


async def company_list(request: Request) -> Response:
    session = await _session(request)
    if session is None:
        return _login_redirect(request)
    svc = services_of(request)
    items, _ = await run_in_threadpool(company_queries.list_companies, svc.store.read(),
                                       session.project_id, PageRequest(200),
                                       request.query_params.get("q") or None)
    return _render(request, "companies.html", session, companies=items, q=request.query_params.get("q", ""))


async def company_detail(request: Request) -> Response:
    session = await _session(request)
    if session is None:
        return _login_redirect(request)
    svc = services_of(request)
    cid = request.path_params["company_id"]

    def load() -> dict[str, Any] | None:
        cur = svc.store.read()
        company = company_queries.company(cur, session.project_id, cid)
        if company is None:
            return None
        members, _ = company_queries.members(cur, session.project_id, cid, PageRequest(200),
                                             svc.store.settings(session.project_id).set_once)
        events, _ = company_queries.timeline(cur, session.project_id, cid, PageRequest(300))
        return {"company": company, "members": members, "events": events}

    ctx = await run_in_threadpool(load)
    if ctx is None:
        return _render(request, "not_found.html", session, status=404, what=f"company {cid}")
    return _render(request, "company.html", session, **ctx)


async def funnels(request: Request) -> Response:
    """A funnel over the form in the query string: per step the count, the conversion
    from the previous step and overall; bad input answers 400 with the reasons."""
    session = await _session(request)
    if session is None:
        return _login_redirect(request)
    form = funnel_form.parse(request.query_params, dt.datetime.now(dt.UTC).date())
    ctx: dict[str, Any] = {"form": form, "windows": funnel_form.WINDOWS,
                           "max_steps": funnel_form.MAX_STEPS, "result": None}
    if form.errors:
        return _render(request, "funnels.html", session, status=400, **ctx)
    req = form.request
    if req is not None:
        svc = services_of(request)
        ctx["result"] = await run_in_threadpool(
            lambda: funnel.funnel(svc.store.read(), session.project_id, list(req.steps),
                                  req.start_us, req.end_us, req.window_us, req.by))
    return _render(request, "funnels.html", session, **ctx)


async def stylesheet(request: Request) -> Response:
    return Response(STATIC.read_bytes(), media_type="text/css",
                    headers={"Cache-Control": "public, max-age=3600"})


def routes() -> list[BaseRoute]:
    """Dashboard routes; kept out of the OpenAPI document (they answer HTML)."""
    def r(path: str, endpoint: Any, methods: list[str]) -> Route:
        return Route(path, endpoint, methods=methods, include_in_schema=False)

    return [
        r("/", overview, ["GET"]),
        r("/login", login, ["GET", "POST"]),
        r("/logout", logout, ["POST"]),
        r("/persons", person_list, ["GET"]),
        r("/persons/{person_id}", person_detail, ["GET"]),
        r("/persons/{person_id}/{action}", person_action, ["POST"]),
        r("/companies", company_list, ["GET"]),
        r("/companies/{company_id}", company_detail, ["GET"]),
        r("/funnels", funnels, ["GET"]),
        r("/static/style.css", stylesheet, ["GET"]),
    ]
