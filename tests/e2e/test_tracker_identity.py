"""The browser tracker end to end, identity flows: Usermaven's testing procedure
(sign-up between page views), one user on two browser profiles, a shared browser with
and without ``reset``, a cleared cookie or localStorage, and group and alias.

Real headless Chromium drives the test site in ``tests/e2e/site`` like a visitor, with
a real Threadline server; the outcome is read through the query API. The fixtures are
in ``tests/e2e/conftest.py``, the helpers in ``tests/e2e/tracker_helpers.py``.
Screenshots and each page's console output are saved under ``test-artifacts/tracker/``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.e2e.site.serve import Site
from tests.e2e.tracker_helpers import Profile, login, lookup, person_with, summary, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("tracker_served")]


def test_usermaven_procedure_one_timeline(profiles: Callable[[str], Profile], site: Site,
                                          shared_server: LiveServer) -> None:
    """Usermaven's testing procedure: a new profile browses three pages, signs up,
    browses two more; the person's timeline holds all of it, in order."""
    p = profiles("visitor")
    aid = p.visit(site.url("index.html"))
    assert p.click_and_settle("nav >> text=Features", "**/features.html") == aid
    assert p.click_and_settle("nav >> text=Sign up", "**/signup.html") == aid
    p.page.fill("input[name=email]", "ada@acme.test")
    p.shot("signup-form")
    p.click_and_settle("button[type=submit]", "**/app.html")
    assert p.click_and_settle("nav >> text=Settings", "**/settings.html") == aid
    p.shot("after-signup")

    person, events = person_with(shared_server, 7, user_id="ada@acme.test")
    assert summary(events) == [
        ("page", "/index.html"),
        ("page", "/features.html"),
        ("page", "/signup.html"),
        ("identify", None),
        ("track", "Signed Up"),
        ("page", "/app.html"),
        ("page", "/settings.html"),
    ]
    assert person["anonymous_ids"] == [aid]
    assert person["user_ids"] == ["ada@acme.test"]
    assert person["is_identified"] is True
    assert person["traits"]["email"] == "ada@acme.test"
    assert lookup(shared_server, anonymous_id=aid)["id"] == person["id"]  # type: ignore[index]
    # Pre-signup events are anonymous; from the identify on they carry the user.
    assert [e["user_id"] for e in events] == [None] * 3 + ["ada@acme.test"] * 4
    assert all(e["anonymous_id"] == aid and e["source"] == "tracker" for e in events)
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)
    features = events[1]
    assert features["properties"]["referrer"] == site.url("index.html")
    ctx = features["context"]
    assert ctx["library"] == {"name": "threadline.js", "version": "0.1.0"}
    assert ctx["page"]["title"].startswith("Features")
    assert ctx["screen"]["width"] > 0 and ctx["locale"] and ctx["timezone"] and ctx["userAgent"]
    # The cookie is first-party, a year long, SameSite=Lax; localStorage holds a copy.
    cookie = next(c for c in p.context.cookies() if c["name"] == "tl_aid")
    assert cookie["value"] == aid and cookie["sameSite"] == "Lax"
    assert cookie["expires"] - time.time() > 364 * 86400
    assert p.storage()["tl_aid"] == aid
    assert "tl_q" not in p.storage()  # delivered, so nothing left queued


def test_same_user_on_two_profiles_is_one_person(profiles: Callable[[str], Profile], site: Site,
                                                 shared_server: LiveServer) -> None:
    """The same user logging in from a second browser profile: one person, two
    anonymous ids."""
    ids = []
    for label, first in (("laptop", "index.html"), ("phone", "pricing.html")):
        p = profiles(label)
        ids.append(p.visit(site.url(first)))
        p.click_and_settle("nav >> text=Log in", "**/login.html")
        p.page.fill("input[name=user]", "grace")
        p.click_and_settle("button[type=submit]", "**/app.html")
        p.shot("logged-in")
    assert ids[0] != ids[1]

    person, events = person_with(shared_server, 10, user_id="grace")
    assert sorted(person["anonymous_ids"]) == sorted(ids)
    assert person["user_ids"] == ["grace"]
    for aid in ids:
        assert lookup(shared_server, anonymous_id=aid)["id"] == person["id"]  # type: ignore[index]
    assert {e["anonymous_id"] for e in events} == set(ids)


def test_shared_browser_with_reset_keeps_people_apart(profiles: Callable[[str], Profile], site: Site,
                                                      shared_server: LiveServer) -> None:
    """User A logs in, logs out (reset), user B logs in on the same browser: two
    persons, nothing mixed."""
    p = profiles("shared")
    first = p.visit(site.url("index.html"))
    assert login(p, "alan") == first
    second = p.click_and_settle("#logout", "**/index.html")
    assert second != first, "reset must start a new visitor"
    assert p.page.evaluate("() => threadline.userId()") is None
    assert p.cookies()["tl_aid"] == second and "tl_uid" not in p.cookies()
    assert login(p, "barbara") == second
    p.shot("second-user")

    # alan: page, login page, identify, Logged In, app page, Logged Out.
    alan, alan_events = person_with(shared_server, 6, user_id="alan")
    # barbara: the page after the reset, login page, identify, Logged In, app page.
    barbara, barbara_events = person_with(shared_server, 5, user_id="barbara")
    assert alan["id"] != barbara["id"]
    assert alan["anonymous_ids"] == [first] and alan["user_ids"] == ["alan"]
    assert barbara["anonymous_ids"] == [second] and barbara["user_ids"] == ["barbara"]
    assert {e["user_id"] for e in alan_events} <= {None, "alan"}
    assert {e["user_id"] for e in barbara_events} <= {None, "barbara"}
    assert summary(alan_events)[-1] == ("track", "Logged Out")
    assert summary(barbara_events)[0] == ("page", "/index.html")
    assert barbara_events[0]["user_id"] is None


def test_shared_browser_without_reset_records_a_conflict(
    profiles: Callable[[str], Profile], site: Site, shared_server: LiveServer
) -> None:
    """The site forgets to call reset: B's identify on A's anonymous id is refused as
    a conflict (identity.md), recorded, and nobody's history is mixed."""
    p = profiles("shared-noreset")
    aid = p.visit(site.url("index.html"))
    login(p, "carol")
    assert p.click_and_settle("#logout-noreset", "**/index.html") == aid
    assert login(p, "dave") == aid
    p.shot("second-user-no-reset")

    # carol: page, login page, identify, Logged In, app page, Logged Out, then the home
    # page and login page that still carried her user id (no reset).
    carol, carol_events = person_with(shared_server, 8, user_id="carol")
    # dave: identify, Logged In, app page: his through their user id.
    dave, dave_events = person_with(shared_server, 3, user_id="dave")
    assert carol["id"] != dave["id"]
    assert carol["anonymous_ids"] == [aid] and carol["user_ids"] == ["carol"]
    assert dave["anonymous_ids"] == [] and dave["user_ids"] == ["dave"]
    assert summary(dave_events) == [("identify", None), ("track", "Logged In"), ("page", "/app.html")]
    assert {e["user_id"] for e in carol_events} == {None, "carol"}

    def conflict() -> list[dict[str, Any]] | None:
        found = []
        for person in (carol, dave):
            with shared_server.query() as q:
                explain = q.get(f"/api/v1/persons/{person['id']}/explain").json()
            for c in explain["conflicts"]:
                if {"carol", "dave"} <= set(c["a_user_ids"]) | set(c["b_user_ids"]):
                    found.append(c)
        return found or None

    conflicts = wait_for("the conflict in explain", conflict)
    assert conflicts[0]["edge"] == "identified"
    sides = {(conflicts[0]["a"]["kind"], conflicts[0]["a"]["value"]),
             (conflicts[0]["b"]["kind"], conflicts[0]["b"]["value"])}
    assert sides == {("anonymous", aid), ("user", "dave")}


def test_cleared_cookie_or_storage_keeps_the_visitor(profiles: Callable[[str], Profile], site: Site,
                                                     shared_server: LiveServer) -> None:
    """The cookie cleared mid-session (localStorage kept), then the reverse: the
    same visitor throughout, and each copy is restored from the other."""
    p = profiles("cleared")
    aid = p.visit(site.url("index.html"))
    login(p, "edith")

    p.context.clear_cookies()
    assert p.cookies() == {}
    assert p.visit(site.url("features.html")) == aid
    assert p.cookies()["tl_aid"] == aid and p.cookies()["tl_uid"] == "edith"

    p.page.evaluate("() => localStorage.clear()")
    assert p.visit(site.url("pricing.html")) == aid
    assert p.storage()["tl_aid"] == aid and p.storage()["tl_uid"] == "edith"
    assert p.page.evaluate("() => threadline.userId()") == "edith"
    p.shot("restored")

    # index, login page, identify, Logged In, app page, features, pricing.
    person, events = person_with(shared_server, 7, anonymous_id=aid)
    assert person["anonymous_ids"] == [aid] and person["user_ids"] == ["edith"]
    assert [e["user_id"] for e in events[-2:]] == ["edith", "edith"]


def test_group_alias_and_leaving_the_page(profiles: Callable[[str], Profile], site: Site,
                                         shared_server: LiveServer) -> None:
    """group makes the person a member of the company, alias links a new user id; calls
    made just before leaving the page are delivered (beacon, then the next page's
    resend of the stored queue) and stored once."""
    p = profiles("group-alias")
    aid = p.visit(site.url("index.html"))
    p.page.evaluate("""() => {
        threadline.identify("kim", {name: "Kim"});
        threadline.group("kim-co", {name: "Kim & Co"});
        threadline.alias("kim-2");
        threadline.track("Leaving", {how: "beacon"});
        location.href = "/features.html";  // before the batch timer fires
    }""")
    p.page.wait_for_url("**/features.html")
    p.settle()
    p.shot("after-leaving")

    person, events = person_with(shared_server, 6, anonymous_id=aid)
    assert sorted(person["user_ids"]) == ["kim", "kim-2"]
    assert [c["id"] for c in person["companies"]] == ["kim-co"]
    assert summary(events)[:4] == [("page", "/index.html"), ("identify", None), ("group", None),
                                   ("alias", None)]
    # (A beacon's clock-skew correction uses its own latency: the last two may swap.)
    assert sorted(summary(events)[4:]) == [("page", "/features.html"), ("track", "Leaving")]
