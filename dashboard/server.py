"""Entry point: `streamlit run dashboard/server.py`. The Streamlit app (`dashboard/app.py`,
its router) served together with the two web routes of the sign-in cookie, which a
Streamlit page cannot do itself (a page never sees or sets an HTTP response):

- `POST /_onboard/session` swaps the one-time nonce of a password sign-in (posted by the
  page's hidden frame, see `dashboard.ui.browser_cookie`) for the session cookie:
  signed, HttpOnly, SameSite=Strict, Secure when `ONBOARD_PUBLIC_URL` is https, for
  `ONBOARD_SESSION_HOURS`;
- `/_onboard/sign-out` (POST from the page, or GET as a plain link) ends the cookie's
  session and drops the cookie; GET then goes back to the app.

Tokens and nonces travel only in a request body or a cookie, never in an address, so no
request line (Streamlit's server keeps no access log anyway) carries one. A POST from
another site is refused (its `Origin` must be this host), and a SameSite=Strict cookie is
never sent by another site's request, so neither route can be driven from outside.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import streamlit as st
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

# `streamlit run dashboard/server.py` puts dashboard/ on sys.path, not the project root.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dashboard.ui import SESSION_ROUTE, SIGN_OUT_ROUTE  # noqa: E402
from provisioning.access import sessions  # noqa: E402
from provisioning.db import Database  # noqa: E402
from provisioning.settings import Settings  # noqa: E402

NO_STORE = {"Cache-Control": "no-store"}


@cache
def _settings() -> Settings:
    return Settings.from_env()


@cache
def _database() -> Database:
    """The app's database, for these routes (the pages hold their own engine)."""
    db = Database(_settings().database_url)
    db.ensure_schema()
    return db


@cache
def _key() -> bytes:
    return sessions.signing_key(_database(), _settings().session_secret)


def _secure() -> bool:
    return urlsplit(_settings().public_url).scheme == "https"


def _same_origin(request: Request) -> bool:
    """Sent by a page of this app, not another site (a browser names the origin of a
    POST; a client without one is no browser a forged form could have driven). Behind a
    proxy that rewrites `Host`, the app's own address is `ONBOARD_PUBLIC_URL`."""
    if request.headers.get("sec-fetch-site") not in (None, "same-origin"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    ours = {request.headers.get("host"), urlsplit(_settings().public_url).netloc}
    return urlsplit(origin).netloc in ours - {None, ""}


async def session_cookie(request: Request) -> Response:
    """The nonce of a sign-in, once, for the session cookie; 403 (and no cookie
    change) for a wrong, used or late nonce."""
    if not _same_origin(request):
        return Response(status_code=403, headers=NO_STORE)
    form = await request.form()
    nonce = str(form.get("nonce") or "")
    value = await run_in_threadpool(sessions.hand_off, _database(), nonce, _key())
    if value is None:
        return Response(status_code=403, headers=NO_STORE)
    response = Response(status_code=204, headers=NO_STORE)
    response.set_cookie(
        sessions.COOKIE_NAME,
        value,
        max_age=_settings().session_hours * 3600,
        path="/",
        secure=_secure(),
        httponly=True,
        samesite="strict",
    )
    return response


async def sign_out(request: Request) -> Response:
    """End the cookie's session and drop the cookie."""
    if request.method == "POST" and not _same_origin(request):
        return Response(status_code=403, headers=NO_STORE)
    if cookie := request.cookies.get(sessions.COOKIE_NAME):
        await run_in_threadpool(sessions.end, _database(), cookie=cookie, key=_key())
    response: Response = (
        RedirectResponse("/", status_code=303, headers=NO_STORE)
        if request.method == "GET"
        else Response(status_code=204, headers=NO_STORE)
    )
    response.delete_cookie(
        sessions.COOKIE_NAME, path="/", secure=_secure(), httponly=True, samesite="strict"
    )
    return response


ROUTES = [
    Route(SESSION_ROUTE, session_cookie, methods=["POST"]),
    Route(SIGN_OUT_ROUTE, sign_out, methods=["GET", "POST"]),
]
app = st.App("app.py", routes=ROUTES)
