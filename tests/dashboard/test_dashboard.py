"""The dashboard in real headless Chromium against a real server: login, the overview,
a person's timeline with pre-login events, and the CSRF and session guards."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import (
    SECRET_KEY,
    WRITE_KEY,
    LiveServer,
    start_server,
)
from tests.dashboard.conftest import BrowserPage

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    s = start_server(tmp_path_factory.mktemp("dash") / "data")
    batch = [
        {"type": "page", "anonymousId": "dash-a", "messageId": "d1", "timestamp": "2026-11-20T09:00:00Z",
         "properties": {"path": "/pricing"}},
        {"type": "page", "anonymousId": "dash-a", "messageId": "d2", "timestamp": "2026-11-20T09:01:00Z",
         "properties": {"path": "/signup"}},
        {"type": "identify", "anonymousId": "dash-a", "userId": "dash-user", "messageId": "d3",
         "timestamp": "2026-11-20T09:02:00Z", "traits": {"email": "dash@example.com"}},
        {"type": "track", "userId": "dash-user", "event": "Signed Up", "messageId": "d4",
         "timestamp": "2026-11-20T09:03:00Z"},
        {"type": "group", "userId": "dash-user", "groupId": "dash-co", "messageId": "d5",
         "timestamp": "2026-11-20T09:04:00Z", "traits": {"name": "Dash Co"}},
    ]
    r = httpx.post(s.url + "/v1/batch", json={"batch": batch}, auth=(WRITE_KEY, ""))
    assert r.json()["accepted"] == 5
    yield s
    s.stop()


def test_pages_need_a_session_and_only_a_secret_key_signs_in(server: LiveServer) -> None:
    r = httpx.get(server.url + "/persons", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = httpx.post(server.url + "/login", data={"secret_key": WRITE_KEY, "next": "/"})
    assert r.status_code == 401 and "write key" in r.text and "secret key (sk_" in r.text
    with httpx.Client(base_url=server.url) as c:
        r = c.post("/login", data={"secret_key": SECRET_KEY, "next": "//evil.example/"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert c.get("/persons").status_code == 200
        # A hand-edited range that is not a number shows the default range.
        r = c.get("/", params={"days": "abc"})
        assert r.status_code == 200 and "30 days" in r.text


def test_posts_without_the_csrf_token_or_from_another_origin_are_refused(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as c:
        c.post("/login", data={"secret_key": SECRET_KEY})
        pid = c.get("/api/v1/persons/lookup", params={"user_id": "dash-user"},
                    headers={"Authorization": f"Bearer {SECRET_KEY}"}).json()["id"]
        r = c.post(f"/persons/{pid}/erase", data={"confirm": "erase"})
        assert r.status_code == 403
        page = c.get(f"/persons/{pid}").text
        token = page.split('name="csrf" value="')[1].split('"')[0]
        r = c.post(f"/persons/{pid}/erase", data={"confirm": "erase", "csrf": token},
                   headers={"Origin": "https://evil.example"})
        assert r.status_code == 403
        assert c.get(f"/persons/{pid}").status_code == 200  # nothing was erased


def test_a_support_person_finds_the_pre_login_history_in_the_browser(
        server: LiveServer, browser_page: BrowserPage) -> None:
    page = browser_page.page
    page.goto(server.url + "/")
    page.fill("input[name=secret_key]", SECRET_KEY)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(server.url + "/")
    assert "counted after identity resolution" in page.content()
    page.screenshot(path=str(browser_page.shots / "overview.png"), full_page=True)
    page.fill("header input[name=q]", "dash@example.com")
    page.press("header input[name=q]", "Enter")
    page.click("table a:has-text('dash@example.com')")
    page.wait_for_selector(".timeline li.signup")
    before = page.locator(".timeline li.before b").all_inner_texts()
    assert before == ["/pricing", "/signup"]
    assert "Signed in as dash-user" in page.inner_text(".timeline li.signup")
    assert "Dash Co" in page.inner_text("p.meta")
    page.screenshot(path=str(browser_page.shots / "person.png"), full_page=True)
    assert not browser_page.csp_errors()
