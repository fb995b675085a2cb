"""What every page shares: who is signed in, the sidebar (language, the person, sign-out)
and error display.

The signed-in `Actor` lives in the session (server side: a browser cannot set it) and is
checked again on every run, so disabling an account or revoking its session ends its open
tabs at their next click. A password sign-in also starts a server-side sign-in session
(`provisioning.access.sessions`) and gets the browser its cookie: the page runs a tiny
same-origin `fetch` that swaps a one-time nonce for the signed, HttpOnly, SameSite=Strict
cookie set by `dashboard/server.py`, so a reload or a new tab is signed in again from the
cookie (`st.context.cookies`) until the session ends.

Single sign-on (Streamlit's OIDC `st.login`, configured under `[auth]` in the secrets) is
offered when it is set up; its identity is mapped to an actor on every run, from its
account or from the provider's role claim (`[onboard_sso]`).
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from dashboard.data import accounts
from dashboard.i18n import LANGUAGE_KEY, LANGUAGE_NAMES, _, label
from provisioning import i18n
from provisioning.access import Actor, sessions
from provisioning.errors import InvalidInput, ProvisioningError, SignInRefused
from provisioning.i18n import N_

ACTOR_KEY = "signed_in"
SESSION_KEY = "sign_in_session"  # this tab's server-side session (its id)
HANDOFF_KEY = "sign_in_handoff"  # (nonce, until): swapped by the browser for its cookie
CLEAR_COOKIE_KEY = "sign_in_clear_cookie"  # signed out: the browser drops its cookie
# The web routes of dashboard/server.py (`streamlit run dashboard/server.py`).
SESSION_ROUTE, SIGN_OUT_ROUTE = "/_onboard/session", "/_onboard/sign-out"
# Posts one form to the app's own origin and nothing else: no user data, no token.
_POST = (
    "<script>fetch({route}, {{method: 'POST', credentials: 'same-origin', "
    "headers: {{'Content-Type': 'application/x-www-form-urlencoded'}}, body: {body}}})"
    "</script>"
)
REFUSAL_KEY = "sign_in_refusal"
EMAIL_KEY, PASSWORD_KEY = "sign_in_email", "sign_in_password"
# accounts.sign_in gives one answer for every cause: so does its translation.
REFUSED = N_("Wrong e-mail or password, or the account is disabled or locked for a while.")


def sso_configured() -> bool:
    """Is Streamlit's single sign-on set up (an `[auth]` section in the secrets)?"""
    return st.secrets.load_if_toml_exists() and "auth" in st.secrets


def signed_in() -> Actor | None:
    """The person signed in, as their account stands now; None routes to the sign-in page."""
    if sso_configured() and st.user.is_logged_in:
        return _sso_actor()
    actor = st.session_state.get(ACTOR_KEY)
    if actor is None:
        return _from_cookie()
    session_id = st.session_state.get(SESSION_KEY)
    if session_id is None:  # signed in without a session (a test harness sets the actor)
        current = accounts.still_enabled(actor)
    else:
        live = accounts.live_session(session_id)
        current = live.actor if live else None
        if live is not None and live.handed_off:
            st.session_state.pop(HANDOFF_KEY, None)
    if current is None:  # its cookie, if it had one, is dead with it; another may be live
        sign_out(clear_cookie=False)  # reruns: the sign-in page next
    st.session_state[ACTOR_KEY] = current
    return current


def _from_cookie() -> Actor | None:
    """A new tab or a reload: the person of the browser's live session cookie, if any."""
    live = accounts.cookie_session(st.context.cookies.get(sessions.COOKIE_NAME))
    if live is None:
        return None
    st.session_state[SESSION_KEY] = live.session_id
    st.session_state[ACTOR_KEY] = live.actor
    return live.actor


def _sso_actor() -> Actor | None:
    """The single sign-on identity's actor; its refusal is kept for the sign-in page."""
    settings: dict[str, Any] = dict(st.secrets.get("onboard_sso", {}))
    claims = dict(st.user)
    email = str(claims.get("email") or "")
    try:
        actor = accounts.sso_actor(
            email, claims, settings.get("role_claim"), dict(settings.get("roles", {}))
        )
    except (SignInRefused, InvalidInput):
        st.session_state[REFUSAL_KEY] = _(
            "{email} has no account here and no role from single sign-on."
        ).format(email=email or "—")
        return None
    st.session_state[ACTOR_KEY] = actor
    return actor


def sign_in_with_password() -> None:
    """The sign-in form's callback: the actor on success (the next run shows every page
    the role may see), the one refusal otherwise. The typed password is never kept."""
    email = st.session_state.get(EMAIL_KEY, "")
    password = st.session_state.pop(PASSWORD_KEY, "")
    try:
        actor = accounts.sign_in(email, password)
    except SignInRefused:
        st.session_state[REFUSAL_KEY] = _(REFUSED)
        return
    started = accounts.start_session(actor, st.context.headers.get("User-Agent"))
    st.session_state[ACTOR_KEY] = actor
    st.session_state[SESSION_KEY] = started.session_id
    until = time.monotonic() + sessions.HANDOFF_TTL.total_seconds()
    st.session_state[HANDOFF_KEY] = (started.handoff, until)
    st.session_state.pop(REFUSAL_KEY, None)


def sign_out(clear_cookie: bool = True) -> None:
    """End the sign-in session (every tab of the browser with it) and forget everything
    the person left in the session (forms, filters, refusals), keep the language; the
    browser drops its cookie; end the single sign-on session too."""
    lang = st.session_state.get(LANGUAGE_KEY)
    if (session_id := st.session_state.get(SESSION_KEY)) is not None:
        accounts.end_session(session_id)  # every tab of the browser is signed out
    st.session_state.clear()
    if lang is not None:
        st.session_state[LANGUAGE_KEY] = lang
    if clear_cookie:  # (a cookie set since this tab opened is not in `st.context`)
        st.session_state[CLEAR_COOKIE_KEY] = True
    if sso_configured() and st.user.is_logged_in:
        st.logout()
    st.rerun()


def browser_cookie() -> None:
    """Bring the browser's cookie in step with this tab: after a password sign-in, swap
    the nonce for the session cookie (until the server saw it done, two minutes at most);
    after a sign-out, drop it. A same-origin POST from a hidden frame: the nonce never
    appears in an address, a log line or the browser's history."""
    handoff = st.session_state.get(HANDOFF_KEY)
    if handoff is not None and handoff[1] < time.monotonic():
        st.session_state.pop(HANDOFF_KEY)
        handoff = None
    if handoff is not None:
        _post(SESSION_ROUTE, {"nonce": handoff[0]})
    elif st.session_state.pop(CLEAR_COOKIE_KEY, False):
        _post(SIGN_OUT_ROUTE, {})


def _post(route: str, form: dict[str, str]) -> None:
    script = _POST.format(route=json.dumps(route), body=json.dumps(urlencode(form)))
    with st.sidebar:
        st.iframe(script, height=1)


def sidebar(actor: Actor | None) -> None:
    """Language, and who is signed in with a way out; drawn before any page runs."""
    st.sidebar.selectbox(
        "Language / Språk",
        i18n.LANGUAGES,
        key=LANGUAGE_KEY,
        format_func=LANGUAGE_NAMES.__getitem__,
    )
    browser_cookie()
    if actor is None:
        return
    st.sidebar.caption(
        _("Signed in as {email} ({role})").format(
            email=actor.email, role=label(i18n.ROLES, actor.role.value)
        )
    )
    if st.sidebar.button(_("Sign out"), key="sign_out", icon=":material/logout:"):
        sign_out()


def current_actor() -> Actor:
    """The signed-in person. The router shows a page only to someone signed in; a page
    script run on its own (`streamlit run dashboard/views/queue.py`) stops here."""
    actor = st.session_state.get(ACTOR_KEY)
    if not isinstance(actor, Actor):
        st.stop()
    return actor


def show_error(error: ProvisioningError) -> None:
    """A refused action, as the person can act on it: each field and its reason."""
    if isinstance(error, InvalidInput):
        st.error(_("Nothing was changed:"))
        for problem in error.errors:
            st.error(f"**{problem.field}**: {problem.reason}")
        return
    st.error(str(error))
