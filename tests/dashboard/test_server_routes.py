"""The sign-in cookie's web routes (`dashboard/server.py`), without a browser: the nonce
is swapped once for a signed HttpOnly SameSite=Strict cookie, another site's POST is
refused, and sign-out ends the session and drops the cookie."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from dashboard import server
from provisioning.access import Role, accounts, sessions
from provisioning.db import Database

PASSWORD = "a-long-enough-password"
HOST = "http://127.0.0.1:8501"


@pytest.fixture
def world(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setenv("ONBOARD_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ONBOARD_SESSION_HOURS", "8")
    for cached in (server._settings, server._database, server._key):
        cached.cache_clear()
    db = Database(sqlite_url)
    db.ensure_schema()
    accounts.add_account(db, None, "ada@example.com", Role.ADMIN, password=PASSWORD)
    yield db
    server._database().dispose()
    for cached in (server._settings, server._database, server._key):
        cached.cache_clear()
    db.dispose()


@pytest.fixture
def client(world: Database) -> TestClient:
    # The app's own routes, without Streamlit's runtime.
    return TestClient(Starlette(routes=server.ROUTES), base_url=HOST)


def _nonce(db: Database) -> str:
    actor = accounts.sign_in(db, "ada@example.com", PASSWORD)
    return sessions.start(db, actor, hours=8).handoff


def test_the_nonce_buys_the_cookie_once(world: Database, client: TestClient) -> None:
    nonce = _nonce(world)
    same = {"Origin": HOST, "Sec-Fetch-Site": "same-origin"}
    answer = client.post(server.SESSION_ROUTE, data={"nonce": nonce}, headers=same)
    assert answer.status_code == 204
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{sessions.COOKIE_NAME}={sessions.TOKEN_PREFIX}")
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/", "Max-Age=28800"):
        assert attribute in cookie, cookie
    assert "Secure" not in cookie  # the public URL is http
    assert answer.headers["cache-control"] == "no-store"
    value = answer.cookies[sessions.COOKIE_NAME]
    assert sessions.from_cookie(world, value, server._key()) is not None

    again = client.post(server.SESSION_ROUTE, data={"nonce": nonce}, headers=same)
    assert again.status_code == 403 and "set-cookie" not in again.headers


def test_another_sites_post_is_refused(world: Database, client: TestClient) -> None:
    nonce = _nonce(world)
    for headers in (
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "same-site"},
    ):
        answer = client.post(server.SESSION_ROUTE, data={"nonce": nonce}, headers=headers)
        assert answer.status_code == 403 and "set-cookie" not in answer.headers
    assert client.post(server.SESSION_ROUTE, data={}).status_code == 403  # no nonce at all
    assert client.post(server.SESSION_ROUTE, data={"nonce": nonce}).status_code == 204


def test_sign_out_ends_the_session_and_drops_the_cookie(
    world: Database, client: TestClient
) -> None:
    answer = client.post(server.SESSION_ROUTE, data={"nonce": _nonce(world)})
    value = answer.cookies[sessions.COOKIE_NAME]
    out = client.get(server.SIGN_OUT_ROUTE, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/"
    dropped = out.headers["set-cookie"]
    assert dropped.startswith(f'{sessions.COOKIE_NAME}=""') and "Max-Age=0" in dropped
    assert sessions.from_cookie(world, value, server._key()) is None
    foreign = client.post(server.SIGN_OUT_ROUTE, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
