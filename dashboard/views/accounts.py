"""Accounts (admins): who may sign in, with which role; add one, disable or enable it,
give it a new password; who is signed in (the live sign-in sessions), and end a session.

A generated password is shown once, right after it was made, and never stored in a
readable form: the admin passes it on. Every change is audited by the service.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from dashboard import components, data, ui
from dashboard.data import accounts, operations
from dashboard.i18n import _, label
from provisioning import i18n
from provisioning.access import accounts as service
from provisioning.access import sessions
from provisioning.states import Role

PASSWORD_SHOWN_KEY = "accounts_new_password"

url = data.database_url()
viewer = ui.current_actor()
st.title(_("Accounts"))
components.flash(operations.take_flash())
if shown := st.session_state.pop(PASSWORD_SHOWN_KEY, None):
    email, password = shown
    st.warning(
        _("The password of {email}, shown only this once: pass it on safely.").format(email=email),
        icon=":material/key:",
    )
    st.code(password, language=None)


def show_once(email: str, password: str | None) -> Callable[[object], None]:
    """After the change is saved: the next run shows the password, and only that run."""

    def keep(changed: object) -> None:
        if password is not None and changed is not False:
            st.session_state[PASSWORD_SHOWN_KEY] = (email, password)

    return keep


rows = accounts.account_rows(url, viewer)
st.dataframe(accounts.accounts_frame(rows), hide_index=True, key="accounts_table")

st.subheader(_("Add an account"))
problem = operations.refusal("accounts_add")
components.refusal_summary(problem, placed=("email", "role", "partner"))
with st.form("accounts_add_form"):
    email_col, name_col = st.columns(2)
    with email_col:
        new_email = st.text_input(_("E-mail"), key="accounts_add_email")
        components.field_errors(problem, "email")
    new_name = name_col.text_input(_("Name"), key="accounts_add_name")
    role_col, partner_col = st.columns(2)
    with role_col:
        role = st.selectbox(
            _("Role"),
            [r.value for r in Role],
            key="accounts_add_role",
            format_func=lambda value: label(i18n.ROLES, value),
        )
        components.field_errors(problem, "role")
    with partner_col:
        partner = st.text_input(
            _("Partner organization ID"),
            key="accounts_add_partner",
            help=_("Only for a partner administrator: the partner whose customers it sees."),
        )
        components.field_errors(problem, "partner")
    sso_only = st.checkbox(
        _("Single sign-on only (no password)"),
        key="accounts_add_sso_only",
        help=_("Otherwise a password is generated and shown once."),
    )
    if st.form_submit_button(_("Add the account"), key="accounts_add", type="primary"):
        password = None if sso_only else service.new_password()
        operations.perform(
            "accounts_add",
            service.add_account,
            email=new_email,
            role=role,
            name=new_name,
            partner_id=partner.strip() or None,
            password=password,
            done=lambda added: (
                _("Account {email} added.") if added else _("{email} has this account already.")
            ).format(email=new_email.strip()),
            on_success=show_once(new_email.strip(), password),
        )

if rows:
    st.subheader(_("Change an account"))
    components.refusal_summary(operations.refusal("accounts_change"))
    by_email = {row.email: row for row in rows}
    pick_col, toggle_col, reset_col = st.columns([2, 1, 1], vertical_alignment="bottom")
    chosen = by_email[pick_col.selectbox(_("Account"), list(by_email), key="accounts_pick")]
    disable = not chosen.disabled
    if toggle_col.button(
        _("Disable") if disable else _("Enable"), key="accounts_toggle", width="stretch"
    ):
        operations.perform(
            "accounts_change",
            service.set_disabled,
            email=chosen.email,
            disabled=disable,
            done=(
                _("{email} can no longer sign in.") if disable else _("{email} can sign in again.")
            ).format(email=chosen.email),
        )
    if reset_col.button(_("New password"), key="accounts_reset", width="stretch"):
        password = service.new_password()
        operations.perform(
            "accounts_change",
            service.set_password,
            email=chosen.email,
            password=password,
            done=_("{email} has a new password.").format(email=chosen.email),
            on_success=show_once(chosen.email, password),
        )

st.subheader(_("Signed in now"))
st.caption(
    _(
        "A sign-in lasts {hours} hours in its browser, across reloads and new tabs, unless it "
        "ends sooner: signing out, disabling the account, a new password, or ending it here."
    ).format(hours=data.settings().session_hours)
)
components.refusal_summary(operations.refusal("accounts_sessions"))
live = accounts.session_rows(url, viewer)
if not live:
    st.info(_("Nobody is signed in with a password right now."), icon=":material/info:")
else:
    st.dataframe(accounts.sessions_frame(live), hide_index=True, key="accounts_sessions_table")
    by_id = {row.id: row for row in live}
    pick_col, one_col, all_col = st.columns([2, 1, 1], vertical_alignment="bottom")
    picked = by_id[
        pick_col.selectbox(
            _("Session"),
            list(by_id),
            key="accounts_session_pick",
            format_func=lambda sid: f"{sid} · {by_id[sid].email} · {by_id[sid].client or ''}",
        )
    ]
    if one_col.button(_("End this session"), key="accounts_session_end", width="stretch"):
        operations.perform(
            "accounts_sessions",
            sessions.revoke,
            session_id=picked.id,
            done=lambda ended: (
                _("Session {session} of {email} ended: they must sign in again.")
                if ended
                else _("Session {session} had ended already.")
            ).format(session=picked.id, email=picked.email),
        )
    if all_col.button(
        _("End all sessions of this account"), key="accounts_sessions_end", width="stretch"
    ):
        operations.perform(
            "accounts_sessions",
            sessions.revoke,
            email=picked.email,
            done=lambda ended: _("Sessions of {email} ended: {count}.").format(
                count=ended, email=picked.email
            ),
        )
