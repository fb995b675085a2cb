"""What every page shares: the sidebar (language, who is acting) and error display."""

from __future__ import annotations

import streamlit as st

from dashboard.i18n import LANGUAGE_KEY, LANGUAGE_NAMES, _
from matching.errors import InvalidEmail
from matching.normalize import normalize_email
from provisioning import i18n
from provisioning.errors import InvalidInput, ProvisioningError

ACTOR_KEY = "ui_actor"


def sidebar() -> None:
    """Language and acting user, drawn by the router before any page runs."""
    st.sidebar.selectbox(
        "Language / Språk",
        i18n.LANGUAGES,
        key=LANGUAGE_KEY,
        format_func=LANGUAGE_NAMES.__getitem__,
    )
    st.sidebar.text_input(
        _("Your e-mail"),
        key=ACTOR_KEY,
        help=_("Every change you make is recorded under this address."),
    )


def current_actor() -> str | None:
    """The person acting, or None (with a note in the page) until they said who they are."""
    raw = (st.session_state.get(ACTOR_KEY) or "").strip()
    if not raw:
        st.warning(_("Enter your e-mail in the sidebar before you change anything."))
        return None
    try:
        return normalize_email(raw)
    except InvalidEmail:
        st.error(_("The e-mail in the sidebar is not a valid address."))
        return None


def show_error(error: ProvisioningError) -> None:
    """A refused action, as the person can act on it: each field and its reason."""
    if isinstance(error, InvalidInput):
        st.error(_("Nothing was changed:"))
        for problem in error.errors:
            st.error(f"**{problem.field}**: {problem.reason}")
        return
    st.error(str(error))
