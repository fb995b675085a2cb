"""The people tests act as: one actor per role, and their accounts for CLI tests.

The service layer takes an `Actor` (the app builds it at sign-in, the CLI from an
account); tests build them directly, and add the accounts when they go through the CLI.
"""

from __future__ import annotations

from provisioning.access import Actor, Role
from provisioning.access.accounts import add_account, has_admin
from provisioning.db import Database

OPERATOR = Actor("operator@example.com", Role.OPERATOR)
MANAGER = Actor("manager@example.com", Role.MANAGER)
ANALYST = Actor("analyst@example.com", Role.ANALYST)
ADMIN = Actor("admin@example.com", Role.ADMIN)


def partner_admin(partner_id: str, email: str | None = None) -> Actor:
    return Actor(email or f"admin@{partner_id}.example", Role.PARTNER_ADMIN, partner_id)


def add_accounts(db: Database, *actors: Actor) -> None:
    """Accounts for `actors` (single sign-on only: no password needed), admin first."""
    if not has_admin(db):
        add_account(db, None, ADMIN.email, ADMIN.role)
    for actor in actors:
        if actor != ADMIN:
            add_account(db, ADMIN, actor.email, actor.role, partner_id=actor.partner_id)
