"""What every page shares: who is signed in, the sidebar (language, the person, sign-out)
and error display.

The signed-in `Actor` lives in the session (server side: a browser cannot set it) and is
checked again against its account on every run, so disabling an account ends its open
sessions at their next click. Single sign-on (Streamlit's OIDC `st.login`, configured
under `[auth]` in the secrets) is offered when it is set up; its identity is mapped to an
actor on every run, from its account or from the provider's role claim (`[onboard_sso]`).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard.data import accounts
from dashboard.i18n import LANGUAGE_KEY, LANGUAGE_NAMES, _, label
from provisioning import i18n
from provisioning.access import Actor
from provisioning.errors import InvalidInput, ProvisioningError, SignInRefused
from provisioning.i18n import N_

ACTOR_KEY = "signed_in"
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
        return None
    current = accounts.still_enabled(actor)
    if current is None:
        sign_out()  # reruns: the sign-in page next
    st.session_state[ACTOR_KEY] = current
    return current


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
        st.session_state[ACTOR_KEY] = accounts.sign_in(email, password)
    except SignInRefused:
        st.session_state[REFUSAL_KEY] = _(REFUSED)
    else:
        st.session_state.pop(REFUSAL_KEY, None)


def sign_out() -> None:
    """Forget everything the person left in the session (forms, filters, refusals), keep
    the language; end the single sign-on session too."""
    lang = st.session_state.get(LANGUAGE_KEY)
    st.session_state.clear()
    if lang is not None:
        st.session_state[LANGUAGE_KEY] = lang
    if sso_configured() and st.user.is_logged_in:
        st.logout()
    st.rerun()


def sidebar(actor: Actor | None) -> None:
    """Language, and who is signed in with a way out; drawn before any page runs."""
    st.sidebar.selectbox(
        "Language / Språk",
        i18n.LANGUAGES,
        key=LANGUAGE_KEY,
        format_func=LANGUAGE_NAMES.__getitem__,
    )
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
