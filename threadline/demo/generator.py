"""A deterministic month of SaaS traffic in the Segment spec.

It has what identity resolution is for: anonymous browsing before sign-up, users on
several devices, cookie clears, a shared office computer used by two people (once with
a logout reset, once without: a conflict), a visitor followed from the blog's domain to
the app's, companies with members, backend events and API calls, and a few clients that
send junk ids like ``"undefined"``.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

Message = dict[str, Any]

PAGES = ["/", "/pricing", "/features", "/docs", "/docs/quickstart", "/blog/identity-resolution",
         "/blog/product-analytics", "/customers", "/about"]
APP_PAGES = ["/app", "/app/dashboard", "/app/reports", "/app/settings", "/app/team", "/app/billing"]
REFERRERS = ["https://www.google.com/", "https://news.ycombinator.com/", "https://twitter.com/",
             "https://www.linkedin.com/", "", ""]
CAMPAIGNS = [None, None, None, {"source": "newsletter", "medium": "email", "name": "november"},
             {"source": "google", "medium": "cpc", "name": "brand"}]
AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0",
]
COMPANIES = [("acme", "Acme Corp", "enterprise", 1200), ("globex", "Globex", "pro", 340),
             ("initech", "Initech", "pro", 95), ("umbrella", "Umbrella", "starter", 40),
             ("hooli", "Hooli", "enterprise", 5000), ("stark", "Stark Industries", "pro", 800),
             ("wayne", "Wayne Enterprises", "enterprise", 2200), ("tyrell", "Tyrell", "starter", 25),
             ("cyberdyne", "Cyberdyne", "pro", 150), ("wonka", "Wonka", "starter", 60)]
FIRST = ["ada", "alan", "grace", "linus", "barbara", "ken", "margaret", "dennis", "radia", "edsger",
         "frances", "john", "katherine", "tim", "hedy", "donald", "sophie", "guido", "yukihiro", "anders"]
API_ROUTES = [("GET", "/v2/reports/{id}"), ("GET", "/v2/events"), ("POST", "/v2/events"),
              ("GET", "/v2/persons/{id}"), ("DELETE", "/v2/sessions/{id}")]
STATUSES = {"GET": [200] * 8 + [304, 404], "POST": [201] * 8 + [400, 422], "DELETE": [204] * 9 + [404]}
API_AGENTS = ["python-requests/2.32.3", "axios/1.7.2", "curl/8.7.1", "Go-http-client/2.0"]
SITE = "https://www.example.com"
# The generator's average, measured: ``events`` is turned into a number of visitors.
EVENTS_PER_VISITOR = 14.2
DEFAULT_EVENTS = 28_000
BLOG = "https://blog.example.net"


@dataclass
class Clock:
    """Event times for one visit: starts at ``t`` and moves on a few seconds per step."""

    t: dt.datetime
    rnd: random.Random

    def tick(self, lo: int = 5, hi: int = 90) -> str:
        self.t += dt.timedelta(seconds=self.rnd.randint(lo, hi))
        return self.t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Builder:
    """Accumulates messages with stable ids (so loading the demo twice stores nothing new)."""

    seed: int
    out: list[Message] = field(default_factory=list)

    def add(self, msg: Message) -> None:
        msg["messageId"] = str(uuid.uuid5(uuid.NAMESPACE_OID, f"demo-{self.seed}-{len(self.out)}"))
        self.out.append(msg)


def _context(rnd: random.Random, ua: str, url: str, path: str, referrer: str) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "page": {"url": url + path, "path": path, "referrer": referrer, "title": _title(path)},
        "userAgent": ua, "locale": rnd.choice(["en-US", "en-GB", "de-DE", "fr-FR"]),
        "ip": f"203.0.113.{rnd.randint(1, 254)}",
        "library": {"name": "threadline.js", "version": "1.0.0"},
    }
    return ctx


def _title(path: str) -> str:
    return (path.strip("/").replace("/", " · ").replace("-", " ").title() or "Home") + " — Example"


def _browse(b: Builder, rnd: random.Random, clock: Clock, anon: str, ua: str, pages: list[str],
            user: str | None = None, site: str = SITE, linked: str | None = None) -> None:
    referrer = rnd.choice(REFERRERS)
    campaign = rnd.choice(CAMPAIGNS) if not user else None
    for i, path in enumerate(pages):
        ctx = _context(rnd, ua, site, path, referrer)
        url = site + path
        if i == 0 and campaign:  # a landing page from a campaign link
            ctx["campaign"] = campaign
            url += "?" + "&".join(f"utm_{k}={v}" for k, v in campaign.items())
            ctx["page"]["url"] = url
            ctx["page"]["search"] = url.split("?", 1)[1]
        if linked and i == 0:
            ctx["linked_anonymous_id"] = linked
        msg: Message = {"type": "page", "anonymousId": anon, "timestamp": clock.tick(),
                        "name": _title(path), "properties": {"path": path, "url": url,
                                                             "title": _title(path), "referrer": referrer},
                        "context": ctx}
        if user:
            msg["userId"] = user
        b.add(msg)
        referrer = site + path


def generate(days: int = 30, seed: int = 7, events: int = DEFAULT_EVENTS, *, visitors: int | None = None,
             now: dt.datetime | None = None) -> list[Message]:
    """Segment-spec messages over ``days`` days up to ``now``: about ``events`` of them
    (or ``visitors`` people, when given). Message ids depend only on the seed and the
    position, so loading the same demo twice stores nothing new."""
    if visitors is None:
        visitors = max(10, round(events / EVENTS_PER_VISITOR))
    rnd = random.Random(seed)
    end = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0, tzinfo=None)
    start = end - dt.timedelta(days=days)
    b = Builder(seed)

    def when() -> Clock:
        return Clock(start + dt.timedelta(seconds=rnd.randint(0, days * 86400 - 4 * 3600)), rnd)

    def anon_id() -> str:
        return str(uuid.UUID(int=rnd.getrandbits(128), version=4))

    for cid, name, plan, employees in COMPANIES:
        c = when()
        b.add({"type": "group", "userId": f"admin@{cid}.example", "groupId": cid, "timestamp": c.tick(),
               "traits": {"name": name, "plan": plan, "employees": employees, "industry": "software"}})

    for n in range(visitors):
        ua = rnd.choice(AGENTS)
        anon = anon_id()
        clock = when()
        first_pages = rnd.sample(PAGES, rnd.randint(1, 4))
        _browse(b, rnd, clock, anon, ua, first_pages)
        if rnd.random() > 0.42:
            continue  # most visitors never sign up
        company = rnd.choice(COMPANIES)
        email = f"{rnd.choice(FIRST)}.{n}@{company[0]}.example"
        user = f"usr_{n:05d}"
        _browse(b, rnd, clock, anon, ua, ["/pricing", "/signup"])
        b.add({"type": "identify", "anonymousId": anon, "userId": user, "timestamp": clock.tick(),
               "traits": {"email": email, "name": email.split("@")[0].split(".")[0].title(),
                          "created_at": clock.t.isoformat() + "Z", "plan": company[2]},
               "context": {"library": {"name": "threadline.js", "version": "1.0.0"}, "userAgent": ua}})
        b.add({"type": "track", "userId": user, "event": "Signed Up", "timestamp": clock.tick(),
               "properties": {"plan": company[2], "method": rnd.choice(["email", "google", "github"])},
               "context": {"library": {"name": "threadline-python", "version": "1.0.0"}}})
        b.add({"type": "group", "userId": user, "groupId": company[0], "timestamp": clock.tick(),
               "traits": {"name": company[1]}})
        _browse(b, rnd, clock, anon, ua, rnd.sample(APP_PAGES, rnd.randint(1, 4)), user=user)
        for _ in range(rnd.randint(0, 6)):  # later sessions
            clock.t += dt.timedelta(hours=rnd.randint(5, 60))
            if clock.t >= end:
                break
            device = rnd.random()
            if device < 0.25:  # a second device: anonymous until the user logs in there
                other, other_ua = anon_id(), rnd.choice(AGENTS)
                _browse(b, rnd, clock, other, other_ua, rnd.sample(PAGES, 2))
                b.add({"type": "identify", "anonymousId": other, "userId": user, "timestamp": clock.tick(),
                       "traits": {"last_login_device": other_ua.split("(")[1].split(";")[0]},
                       "context": {"library": {"name": "threadline.js", "version": "1.0.0"}}})
                _browse(b, rnd, clock, other, other_ua, rnd.sample(APP_PAGES, 2), user=user)
            elif device < 0.35:  # cookies cleared: a new anonymous id, linked again at login
                anon = anon_id()
                _browse(b, rnd, clock, anon, ua, ["/", "/app"])
                b.add({"type": "identify", "anonymousId": anon, "userId": user, "timestamp": clock.tick(),
                       "context": {"library": {"name": "threadline.js", "version": "1.0.0"}}})
            else:
                _browse(b, rnd, clock, anon, ua, rnd.sample(APP_PAGES, rnd.randint(1, 3)), user=user)
            event = rnd.choice(["Report Exported", "Invited Teammate", "Dashboard Shared", "Plan Upgraded"])
            b.add({"type": "track", "userId": user, "anonymousId": anon, "event": event,
                   "timestamp": clock.tick(), "properties": {"plan": company[2]},
                   "context": {"groupId": company[0]}})
            for _ in range(rnd.randint(0, 8)):  # API calls from the user's integration
                b.add(_api_call(rnd, clock, user, company[0]))

    _shared_office_computer(b, rnd, when(), anon_id())
    _cross_domain_visit(b, rnd, when(), anon_id(), anon_id())
    _junk_clients(b, rnd, when())
    return b.out


def _api_call(rnd: random.Random, clock: Clock, user: str, company: str) -> Message:
    """A request to the customer's API, as Threadline's middleware reports it."""
    method, route = rnd.choice(API_ROUTES)
    status = rnd.choice(STATUSES[method]) if rnd.random() > 0.03 else rnd.choice([429, 500, 503])
    path = route.replace("{id}", str(rnd.randint(1, 999)))
    return {"type": "track", "userId": user, "event": "API Call", "timestamp": clock.tick(1, 20),
            "properties": {"method": method, "url": "https://api.example.com" + path, "route": route,
                           "status": status, "duration_ms": round(rnd.lognormvariate(3.5, 0.6), 1),
                           "request_bytes": rnd.randint(0, 4000) if method in ("POST", "PUT") else 0,
                           "response_bytes": rnd.randint(50, 60000), "ip": f"198.51.100.{rnd.randint(1, 254)}",
                           "user_agent": rnd.choice(API_AGENTS), "api_version": "2024-06-01",
                           "transaction_id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
                           "direction": "incoming"},
            "context": {"groupId": company,
                        "library": {"name": "threadline-middleware", "version": "1.0.0"}}}


def _shared_office_computer(b: Builder, rnd: random.Random, clock: Clock, anon: str) -> None:
    """Dana logs in, then Eli on the same browser without a logout reset: a conflict."""
    ua = AGENTS[1]
    _browse(b, rnd, clock, anon, ua, ["/", "/pricing"])
    for user, email in (("usr_dana", "dana@acme.example"), ("usr_eli", "eli@acme.example")):
        b.add({"type": "identify", "anonymousId": anon, "userId": user, "timestamp": clock.tick(),
               "traits": {"email": email}})
        _browse(b, rnd, clock, anon, ua, ["/app", "/app/reports"], user=user)
    # Frank and Gus share a kiosk, but the app resets the anonymous id at logout.
    for user in ("usr_frank", "usr_gus"):
        kiosk = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
        _browse(b, rnd, clock, kiosk, ua, ["/app"])
        b.add({"type": "identify", "anonymousId": kiosk, "userId": user, "timestamp": clock.tick(),
               "traits": {"email": f"{user[4:]}@globex.example"}})


def _cross_domain_visit(b: Builder, rnd: random.Random, clock: Clock, blog_anon: str, site_anon: str) -> None:
    """A reader goes from the blog's domain to the product site, then signs up."""
    ua = AGENTS[0]
    _browse(b, rnd, clock, blog_anon, ua, ["/posts/why-identity-matters", "/posts/launch"], site=BLOG)
    _browse(b, rnd, clock, site_anon, ua, ["/", "/pricing", "/signup"], linked=blog_anon)
    b.add({"type": "identify", "anonymousId": site_anon, "userId": "usr_hana",
           "timestamp": clock.tick(), "traits": {"email": "hana@hooli.example"}})


def _junk_clients(b: Builder, rnd: random.Random, clock: Clock) -> None:
    """Clients that send placeholder ids: stored as personless events, never one giant person."""
    for junk in ("undefined", "null", "0"):
        for _ in range(3):
            b.add({"type": "track", "userId": junk, "anonymousId": "undefined", "event": "Button Clicked",
                   "timestamp": clock.tick(), "properties": {"button": "subscribe"}})


def batches(messages: list[Message], size: int = 500) -> Iterator[list[Message]]:
    """``messages`` in chunks of ``size``."""
    for i in range(0, len(messages), size):
        yield messages[i:i + size]
