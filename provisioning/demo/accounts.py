"""One account per role for the demo world, so every page can be tried at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from provisioning.access import accounts
from provisioning.access.accounts import BOOTSTRAP
from provisioning.db import Database
from provisioning.models import Order, Org
from provisioning.states import Role

DEMO_DOMAIN = "desk.example"
PEOPLE = {
    Role.OPERATOR: "Olivia Operator",
    Role.MANAGER: "Magnus Manager",
    Role.ANALYST: "Ana Analyst",
    Role.PARTNER_ADMIN: "Per Partner",
    Role.ADMIN: "Ada Admin",
}


@dataclass(frozen=True, slots=True)
class DemoAccount:
    email: str
    role: str
    partner_id: str | None
    password: str


def create_demo_accounts(db: Database, now: datetime) -> list[DemoAccount]:
    """`demo_accounts_in` in a transaction of its own (a world loaded earlier)."""
    with db.write() as session:
        return demo_accounts_in(session, now, BOOTSTRAP)


def demo_accounts_in(session: Session, now: datetime, job: str) -> list[DemoAccount]:
    """An account per role with a fresh random password, returned once to be printed,
    added by the demo job in its own transaction (so a refusal leaves nothing behind).

    The partner admin acts for the partner with the most orders, so its view is full but
    visibly smaller than an operator's. An existing account of the same name and role is
    kept (its password is not changed); one with another role refuses the whole demo.
    """
    partner_id = _busiest_partner(session)
    created = []
    for role in (Role.ADMIN, *(r for r in PEOPLE if r is not Role.ADMIN)):
        bound = partner_id if role is Role.PARTNER_ADMIN else None
        if role is Role.PARTNER_ADMIN and bound is None:
            continue  # a world without partners
        email = f"{role.value.replace('_', '-')}@{DEMO_DOMAIN}"
        password = accounts.new_password()
        name = PEOPLE[role]
        if accounts.add_account_in(
            session, job, email, role, name=name, partner_id=bound, password=password, now=now
        ):
            created.append(DemoAccount(email, role.value, bound, password))
    return created


def _busiest_partner(session: Session) -> str | None:
    return session.scalar(
        select(Order.partner_id)
        .join(Org, Org.org_id == Order.partner_id)
        .group_by(Order.partner_id)
        .order_by(func.count().desc(), Order.partner_id)
        .limit(1)
    )
