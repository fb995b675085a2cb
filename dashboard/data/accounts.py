"""Who is signed in, and the admin's account list: the app's side of
`provisioning.access.accounts`.

Sign-in answers are never cached: the failed-attempt count lives in the database and must
see every attempt. The account list is small and changes with every admin action, so it
is read afresh on each run too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from dashboard.data import checked_database, current_database
from dashboard.i18n import _, fmt_datetime, label
from provisioning import i18n
from provisioning.access import Actor, Permission, accounts
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
