"""The dashboard's funnels page against a real server: events go in through the native
collector with the write key, the page is read with a signed-in session, and its table
must show the counts and conversions the seeded traffic implies, by person and by
company; bad form input answers 400 with the reason on the page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from tests.conftest import (
    SECRET_KEY,
    LiveServer,
    start_server,
)
from tests.dashboard.conftest import BrowserPage
from tests.query.helpers import msg, send

MARCH = {"from": "2026-03-01", "to": "2026-03-31"}
SIGNUP_TO_API = {"t1": "event", "v1": "Signed Up", "t2": "event", "v2": "API Call"}
PRICING_SIGNUP_API = {"t1": "page", "v1": "/pricing", "t2": "event", "v2": "Signed Up",
                      "t3": "event", "v3": "API Call"}


def _seed() -> list[dict[str, Any]]:
    """Sign-up → first API call traffic in March 2026 (and one person in February).

    Persons: u1 (acme) reads /pricing anonymously, then signs up and calls the API 24
    minutes later; u2 (acme) calls 11 hours after signing up; u3 (globex) 5 days
    after; u4 (globex) never calls; u5 (no company) calls 10 minutes after; u6
    (initech) called before signing up, which is the wrong order; u7 signed up in
    February, before the range; a8 only reads /pricing.
    """
    return [
        msg("page", "2026-03-02T09:50:00Z", anon="fn-a1", properties={"path": "/pricing"}),
        msg("identify", "2026-03-02T10:00:00Z", anon="fn-a1", user="fn-u1"),
        msg("group", "2026-03-02T10:01:00Z", user="fn-u1", groupId="fn-acme"),
        msg("track", "2026-03-02T10:06:00Z", user="fn-u1", event="Signed Up"),
        msg("track", "2026-03-02T10:30:00Z", user="fn-u1", event="API Call"),
        msg("page", "2026-03-03T08:50:00Z", user="fn-u2", properties={"path": "/pricing"}),
        msg("group", "2026-03-03T08:55:00Z", user="fn-u2", groupId="fn-acme"),
        msg("track", "2026-03-03T09:00:00Z", user="fn-u2", event="Signed Up"),
        msg("track", "2026-03-03T20:00:00Z", user="fn-u2", event="API Call"),
        msg("group", "2026-03-05T11:00:00Z", user="fn-u3", groupId="fn-globex"),
        msg("track", "2026-03-05T12:00:00Z", user="fn-u3", event="Signed Up"),
        msg("track", "2026-03-10T12:00:00Z", user="fn-u3", event="API Call"),
        msg("page", "2026-03-06T08:00:00Z", user="fn-u4", properties={"path": "/pricing"}),
        msg("group", "2026-03-06T08:30:00Z", user="fn-u4", groupId="fn-globex"),
        msg("track", "2026-03-06T09:00:00Z", user="fn-u4", event="Signed Up"),
        msg("track", "2026-03-07T12:00:00Z", user="fn-u5", event="Signed Up"),
        msg("track", "2026-03-07T12:10:00Z", user="fn-u5", event="API Call"),
        msg("group", "2026-03-08T09:00:00Z", user="fn-u6", groupId="fn-initech"),
        msg("track", "2026-03-08T10:00:00Z", user="fn-u6", event="API Call"),
        msg("track", "2026-03-08T11:00:00Z", user="fn-u6", event="Signed Up"),
        msg("track", "2026-02-20T12:00:00Z", user="fn-u7", event="Signed Up"),
        msg("track", "2026-02-20T12:05:00Z", user="fn-u7", event="API Call"),
        msg("page", "2026-03-09T08:00:00Z", anon="fn-a8", properties={"path": "/pricing"}),
    ]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    s = start_server(tmp_path_factory.mktemp("funnels") / "data")
    try:
        batch = _seed()
        with s.ingest() as c:
            assert send(c, *batch)["accepted"] == len(batch)
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def dash(server: LiveServer) -> Iterator[httpx.Client]:
    """A signed-in dashboard session."""
    with httpx.Client(base_url=server.url, timeout=30) as c:
        r = c.post("/login", data={"secret_key": SECRET_KEY, "next": "/"}, follow_redirects=False)
        assert r.status_code == 303
        yield c


class _Table(HTMLParser):
    """The text of each body row's cells in ``table.funnel``."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._in_table = self._in_body = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and ("class", "funnel") in attrs:
            self._in_table = True
        elif self._in_table and tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append([])
        elif self._in_body and tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tbody":
            self._in_body = self._in_table = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def funnel_rows(dash: httpx.Client, **params: str) -> list[tuple[str, str, str, str]]:
    """(step, count, from previous, overall) per step, as the page shows them."""
    r = dash.get("/funnels", params=params)
    assert r.status_code == 200, r.text
    table = _Table()
    table.feed(r.text)
    assert table.rows, "the page shows no funnel table"
    # cells: step, bar, count, from previous, overall
    return [(row[0], row[2], row[3], row[4]) for row in table.rows]


def test_logged_out_requests_go_to_login_and_come_back_to_the_same_funnel(server: LiveServer) -> None:
    query = {**SIGNUP_TO_API, **MARCH, "window": "P7D", "by": "person"}
    r = httpx.get(server.url + "/funnels", params=query, follow_redirects=False)
    assert r.status_code == 303
    location = r.headers["location"]
    assert location.startswith("/login?next=/funnels%3Ft1%3Devent%26v1%3DSigned%2BUp")
    with httpx.Client(base_url=server.url) as c:
        page = c.get(location).text
        nxt = page.split('name="next" value="')[1].split('"')[0].replace("&amp;", "&")
        r = c.post("/login", data={"secret_key": SECRET_KEY, "next": nxt}, follow_redirects=False)
        assert r.status_code == 303
        r = c.get(r.headers["location"])
        assert r.status_code == 200
        assert "1. Signed Up" in r.text and "2. API Call" in r.text


def test_the_nav_links_the_page_and_the_first_visit_shows_the_form_with_defaults(
        dash: httpx.Client) -> None:
    before = dt.datetime.now(dt.UTC).date()
    r = dash.get("/funnels")
    after = dt.datetime.now(dt.UTC).date()
    assert r.status_code == 200
    assert '<a href="/funnels">Funnels</a>' in r.text
    assert 'name="v6"' in r.text and 'name="v7"' not in r.text
    assert 'class="funnel"' not in r.text and "cannot be shown" not in r.text
    assert any(f'name="from" value="{(d - dt.timedelta(days=29)).isoformat()}"' in r.text
               and f'name="to" value="{d.isoformat()}"' in r.text for d in {before, after})
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert "<script" not in r.text


@pytest.mark.parametrize(("window", "expected"), [
    ("PT1H", [("1. Signed Up", "6", "—", "100.0%"), ("2. API Call", "2", "33.3%", "33.3%")]),
    ("P1D", [("1. Signed Up", "6", "—", "100.0%"), ("2. API Call", "3", "50.0%", "50.0%")]),
    ("P7D", [("1. Signed Up", "6", "—", "100.0%"), ("2. API Call", "4", "66.7%", "66.7%")]),
])
def test_signup_to_first_api_call_by_person(dash: httpx.Client, window: str,
                                            expected: list[tuple[str, str, str, str]]) -> None:
    # u1..u6 sign up in March (u7 in February is outside); u6's call came first.
    assert funnel_rows(dash, **SIGNUP_TO_API, **MARCH, window=window, by="person") == expected


@pytest.mark.parametrize(("window", "expected"), [
    ("PT1H", [("1. Signed Up", "3", "—", "100.0%"), ("2. API Call", "1", "33.3%", "33.3%")]),
    ("P7D", [("1. Signed Up", "3", "—", "100.0%"), ("2. API Call", "2", "66.7%", "66.7%")]),
])
def test_signup_to_first_api_call_by_company(dash: httpx.Client, window: str,
                                             expected: list[tuple[str, str, str, str]]) -> None:
    # acme (u1 in 24 min), globex (u3 in 5 days; u4 never), initech (wrong order);
    # u5 has no company and does not count.
    rows = funnel_rows(dash, **SIGNUP_TO_API, **MARCH, window=window, by="company")
    assert rows == expected


def test_company_counting_says_which_events_are_a_companys(dash: httpx.Client) -> None:
    # The pre-sign-up /pricing views came before each group call, so they are no
    # company's events: the page explains that, rather than leaving a bare 0.
    r = dash.get("/funnels", params={**PRICING_SIGNUP_API, **MARCH, "by": "company"})
    assert r.status_code == 200
    assert "members' events from the time each joined it" in r.text
    table = _Table()
    table.feed(r.text)
    assert [row[2] for row in table.rows] == ["0", "0", "0"]


def test_a_page_step_and_anonymous_pre_login_views_count_for_the_person(dash: httpx.Client) -> None:
    # /pricing: u1 (anonymous, before identify), u2, u4, a8; sign-up: not a8; call: u1, u2.
    rows = funnel_rows(dash, **PRICING_SIGNUP_API, **MARCH, window="P7D", by="person")
    assert rows == [("1. Page /pricing", "4", "—", "100.0%"),
                    ("2. Signed Up", "3", "75.0%", "75.0%"),
                    ("3. API Call", "2", "66.7%", "50.0%")]


def test_the_bars_are_as_long_as_the_overall_share(dash: httpx.Client) -> None:
    r = dash.get("/funnels", params={**PRICING_SIGNUP_API, **MARCH, "window": "P7D"})
    fills = [part.split('"')[0] for part in r.text.split('<rect class="fill" width="')[1:]]
    assert fills == ["100.00", "75.00", "50.00"]


def test_a_first_step_nobody_made_says_so(dash: httpx.Client) -> None:
    rows = funnel_rows(dash, t1="event", v1="No Such Event", t2="event", v2="API Call", **MARCH)
    assert rows == [("1. No Such Event", "0", "—", "0.0%"), ("2. API Call", "0", "0.0%", "0.0%")]
    assert "No persons made the first step" in dash.get(
        "/funnels", params={"t1": "event", "v1": "No Such Event", "v2": "API Call", **MARCH}).text


@pytest.mark.parametrize(("params", "message"), [
    ({"t1": "event", "v1": "Signed Up", **MARCH}, "A funnel needs at least 2 steps; you gave 1."),
    ({**SIGNUP_TO_API, **MARCH, "window": "P2D"},
     "Unknown conversion window “P2D”; choose 1 hour, 1 day, 7 days or 30 days."),
    ({**SIGNUP_TO_API, "from": "2026-02-30", "to": "2026-03-31"},
     "From date “2026-02-30” is not a date; use YYYY-MM-DD."),
    ({**SIGNUP_TO_API, "from": "2026-03-01", "to": "yesterday"},
     "To date “yesterday” is not a date; use YYYY-MM-DD."),
    ({**SIGNUP_TO_API, "from": "2026-03-31", "to": "2026-03-01"}, "The To date is before the From date."),
    ({**SIGNUP_TO_API, **MARCH, "by": "team"}, "Count by must be person or company, not “team”."),
    ({**SIGNUP_TO_API, "t3": "page", "v3": "pricing", **MARCH},
     "Step 3: a page path starts with “/”, like /pricing."),
    ({**SIGNUP_TO_API, "t2": "click", **MARCH}, "Step 2: the kind must be event or page, not “click”."),
    ({**SIGNUP_TO_API, "v7": "Paid", **MARCH}, "A funnel has at most 6 steps."),
], ids=["one_step", "unknown_window", "impossible_date", "word_date", "to_before_from",
        "unknown_count_by", "page_path_without_slash", "unknown_step_kind", "seven_steps"])
def test_bad_input_answers_400_with_the_reason_on_the_page(dash: httpx.Client, params: dict[str, str],
                                                           message: str) -> None:
    r = dash.get("/funnels", params=params)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/html")
    assert message in r.text
    assert 'class="funnel"' not in r.text  # no result table beside the error
    # The form comes back as typed, so the analyst can fix it.
    assert f'value="{params.get("v1", "")}"' in r.text


def test_every_problem_is_listed_at_once(dash: httpx.Client) -> None:
    r = dash.get("/funnels", params={"v1": "Signed Up", "window": "forever", "from": "x"})
    assert r.status_code == 400
    for message in ("at least 2 steps", "window “forever”", "From date “x”"):
        assert message in r.text


@pytest.mark.browser
def test_the_funnel_bars_render_in_the_browser(server: LiveServer, browser_page: BrowserPage) -> None:
    page = browser_page.page
    query = str(httpx.QueryParams({**PRICING_SIGNUP_API, **MARCH, "window": "P7D", "by": "person"}))
    page.goto(f"{server.url}/funnels?{query}")  # signed out: login, then back here
    page.fill("input[name=secret_key]", SECRET_KEY)
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("table.funnel svg.bar rect.fill")

    def widths(selector: str) -> list[float]:
        boxes = [page.locator(selector).nth(i).bounding_box() for i in range(3)]
        assert all(boxes), f"{selector} is not laid out"
        return [box["width"] for box in boxes if box]

    tracks, fills = widths("svg.bar rect.track"), widths("svg.bar rect.fill")
    assert tracks[0] > 100
    assert [round(f / t, 2) for f, t in zip(fills, tracks, strict=True)] == [1.0, 0.75, 0.5]
    page.screenshot(path=str(browser_page.shots / "funnels.png"), full_page=True)
    # The form is filled from the URL, so the funnel can be changed and resubmitted.
    page.select_option("select[name=by]", "company")
    page.click("button:has-text('Show funnel')")
    page.wait_for_url("**by=company**")
    assert page.locator("table.funnel th").nth(2).inner_text() == "Companies"
    assert not browser_page.csp_errors()
