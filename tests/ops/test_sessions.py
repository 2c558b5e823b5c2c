"""Dashboard sessions are recorded server-side (logout makes an old cookie stop working),
and failed sign-ins are limited per client address, after trusted-proxy handling."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import SECRET_KEY, WRITE_KEY
from tests.ops.inprocess import client, running_app
from threadline.dashboard.session import COOKIE, Signer, key_fingerprint, load_secret
from threadline.dashboard.session_store import LOGIN_FAILURES, LOGIN_WINDOW_S
from threadline.projects import DEFAULT_PROJECT

pytestmark = pytest.mark.anyio
WRONG = "sk_" + "x" * 30


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _login(c: httpx.AsyncClient, key: str = SECRET_KEY, **headers: str) -> httpx.Response:
    return await c.post("/login", data={"secret_key": key, "next": "/persons"}, headers=headers)


async def test_logout_ends_the_session_server_side(tmp_path: Path) -> None:
    async with running_app(tmp_path) as app, client(app) as c:
        r = await _login(c)
        assert r.status_code == 303 and r.headers["location"] == "/persons"
        old = c.cookies[COOKIE]
        page = await c.get("/persons")
        assert page.status_code == 200
        token = page.text.split('name="csrf" value="')[1].split('"')[0]
        out = await c.post("/logout", data={"csrf": token})
        assert out.status_code == 303 and out.headers["location"] == "/login"
        # The old cookie, replayed as it was (e.g. copied before the logout), opens nothing.
        async with client(app) as thief:
            thief.cookies.set(COOKIE, old)
            r = await thief.get("/persons")
            assert r.status_code == 303 and r.headers["location"].startswith("/login")


async def test_a_session_of_another_login_is_unaffected_by_a_logout(tmp_path: Path) -> None:
    async with running_app(tmp_path) as app, client(app) as a, client(app) as b:
        await _login(a)
        await _login(b)
        page = await a.get("/persons")
        token = page.text.split('name="csrf" value="')[1].split('"')[0]
        await a.post("/logout", data={"csrf": token})
        assert (await b.get("/persons")).status_code == 200


async def test_a_signed_cookie_without_a_server_side_session_opens_nothing(tmp_path: Path) -> None:
    async with running_app(tmp_path) as app, client(app) as c:
        # Signed with the server's own key, but naming a session that was never recorded.
        signer = Signer(load_secret(tmp_path))
        c.cookies.set(COOKIE, signer.issue("never-recorded", DEFAULT_PROJECT, key_fingerprint(SECRET_KEY)))
        r = await c.get("/persons")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


async def test_failed_sign_ins_are_limited_per_client(tmp_path: Path) -> None:
    async with running_app(tmp_path) as app, client(app, peer="10.0.0.7") as bad, \
            client(app, peer="10.0.0.8") as good:
        for _ in range(LOGIN_FAILURES):
            r = await _login(bad, WRONG)
            assert r.status_code == 401
        r = await _login(bad, WRONG)
        assert r.status_code == 429
        assert 0 < int(r.headers["retry-after"]) <= LOGIN_WINDOW_S
        assert "Too many failed sign-ins" in r.text
        # Even the right key waits: otherwise guessing would go on and stop at a hit.
        r = await _login(bad)
        assert r.status_code == 429 and COOKIE not in r.cookies
        # Another address is not affected.
        assert (await _login(good)).status_code == 303


async def test_the_limit_counts_the_forwarded_client_behind_a_trusted_proxy(tmp_path: Path) -> None:
    async with running_app(tmp_path, trusted_proxies="10.1.0.0/16") as app, \
            client(app, peer="10.1.0.2") as proxy, client(app, peer="203.0.113.9") as direct:
        for _ in range(LOGIN_FAILURES):
            await _login(proxy, WRONG, **{"X-Forwarded-For": "198.51.100.1"})
        r = await _login(proxy, WRONG, **{"X-Forwarded-For": "198.51.100.1"})
        assert r.status_code == 429
        # Another visitor behind the same proxy signs in.
        assert (await _login(proxy, **{"X-Forwarded-For": "198.51.100.2"})).status_code == 303
        # An untrusted peer cannot dodge its own limit by sending X-Forwarded-For.
        for n in range(LOGIN_FAILURES):
            await _login(direct, WRONG, **{"X-Forwarded-For": f"192.0.2.{n}"})
        r = await _login(direct, WRONG, **{"X-Forwarded-For": "192.0.2.200"})
        assert r.status_code == 429


async def test_wrong_key_messages_name_what_was_entered(tmp_path: Path) -> None:
    async with running_app(tmp_path) as app, client(app) as c:
        r = await _login(c, WRONG)
        assert r.status_code == 401
        assert "not a valid secret key" in r.text and "write key" not in r.text
        r = await _login(c, WRITE_KEY)
        assert r.status_code == 401 and "write key" in r.text
