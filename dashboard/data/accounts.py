"""Who is signed in, and the admin's account list: the app's side of
`provisioning.access.accounts` and of the sign-in sessions (`provisioning.access.sessions`).

Sign-in answers are never cached: the failed-attempt count lives in the database and must
see every attempt. The account list is small and changes with every admin action, so it
is read afresh on each run too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.data import checked_database, current_database, database_url, settings
from dashboard.i18n import _, fmt_datetime, label
from provisioning import i18n
from provisioning.access import Actor, Permission, accounts, sessions
from provisioning.errors import InvalidInput
from provisioning.i18n import N_

SIGN_IN_KINDS: Mapping[str, str] = {
    "password": N_("Password"),
    "single sign-on": N_("Single sign-on"),
}


def sign_in(email: str, password: str) -> Actor:
    """The actor for a correct e-mail and password (`SignInRefused` otherwise)."""
    return accounts.sign_in(current_database(), email, password)


def sso_actor(
    email: str, claims: dict[str, Any], role_claim: str | None, roles: dict[str, str]
) -> Actor:
    """The actor of a single sign-on identity (`SignInRefused` when it has no role here)."""
    return accounts.sso_actor(current_database(), email, claims, role_claim, roles)


def no_admin_yet() -> bool:
    """A database nobody can administer yet (created before accounts existed, or by an
    import rather than the demo): the sign-in page says how to add the first admin."""
    return not accounts.has_admin(current_database())


def still_enabled(actor: Actor) -> Actor | None:
    """The actor as its account stands now, or None once it was disabled or removed: a
    session signed in before an admin disabled the account ends at its next click."""
    try:
        return accounts.actor_for(current_database(), actor.email)
    except InvalidInput:
        return None


@st.cache_resource(show_spinner=False)
def _cookie_key(url: str) -> bytes:  # keyed by the database it is kept in
    return sessions.signing_key(current_database(), settings().session_secret)


def cookie_key() -> bytes:
    """The key signing the sign-in cookie (the setting, else the database's own)."""
    return _cookie_key(database_url())


def start_session(actor: Actor, client: str | None) -> sessions.Started:
    """The server-side session of a password sign-in (its browser gets the cookie)."""
    return sessions.start(current_database(), actor, hours=settings().session_hours, client=client)


def live_session(session_id: int) -> sessions.Current | None:
    """The tab's session as it stands now; None once it ended (never cached)."""
    return sessions.current(current_database(), session_id)


def cookie_session(cookie: str | None) -> sessions.Current | None:
    """The live session behind the browser's cookie (a reload, a new tab), if any."""
    if not cookie:
        return None
    return sessions.from_cookie(current_database(), cookie, cookie_key())


def end_session(session_id: int) -> None:
    """Sign-out: the tab's session ends for every tab of the browser."""
    sessions.end(current_database(), session_id=session_id)


def session_rows(url: str, viewer: Actor) -> list[sessions.SessionRow]:
    db = checked_database(url, viewer, Permission.MANAGE_ACCOUNTS)
    return sessions.list_sessions(db, viewer)


def sessions_frame(rows: list[sessions.SessionRow]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                _("Session"): row.id,
                _("E-mail"): row.email,
                _("Signed in"): fmt_datetime(row.created_at),
                _("Last seen"): fmt_datetime(row.last_seen_at),
                _("Ends"): fmt_datetime(row.expires_at),
                _("Browser"): row.client or "",
            }
            for row in rows
        ]
    )


def account_rows(url: str, viewer: Actor) -> list[accounts.AccountRow]:
    return accounts.list_accounts(checked_database(url, viewer, Permission.MANAGE_ACCOUNTS), viewer)


def accounts_frame(rows: list[accounts.AccountRow]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                _("E-mail"): row.email,
                _("Name"): row.name,
                _("Role"): label(i18n.ROLES, row.role),
                _("Partner"): row.partner_id or "",
                _("Signs in with"): label(SIGN_IN_KINDS, row.sign_in),
                _("Disabled"): "✓" if row.disabled else "",
                _("Locked until"): fmt_datetime(row.locked_until),
                _("Last sign-in"): fmt_datetime(row.last_sign_in_at),
            }
            for row in rows
        ]
    )
