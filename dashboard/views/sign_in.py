"""Sign in: the only page anyone who is not signed in can reach.

E-mail and password (the app's own accounts), and single sign-on where it is set up.
A refusal says the same thing whatever went wrong, as `accounts.sign_in` does.
"""

from __future__ import annotations

import streamlit as st

from dashboard import ui
from dashboard.data import accounts
from dashboard.i18n import _

st.title(_("Sign in"))
st.caption(_("Onboarding Desk shows orders and changes them only for a signed-in person."))
with st.form("sign_in_form"):
    st.text_input(_("E-mail"), key=ui.EMAIL_KEY, autocomplete="username")
    st.text_input(
        _("Password"), key=ui.PASSWORD_KEY, type="password", autocomplete="current-password"
    )
    st.form_submit_button(
        _("Sign in"), key="sign_in_submit", type="primary", on_click=ui.sign_in_with_password
    )
if refusal := st.session_state.get(ui.REFUSAL_KEY):
    st.error(refusal, icon=":material/block:")
if accounts.no_admin_yet():
    st.info(
        _(
            "This database has no administrator account yet. On the server, create the "
            "first one: `onboard users add EMAIL --role admin`; it prints the password."
        ),
        icon=":material/person_add:",
    )

if ui.sso_configured():
    st.divider()
    if st.user.is_logged_in:  # an identity the desk refused: let them leave it
        if st.button(_("Sign out of single sign-on"), key="sign_in_sso_out"):
            ui.sign_out()
    elif st.button(_("Sign in with single sign-on"), key="sign_in_sso", icon=":material/key:"):
        st.login()
