"""The order list of `onboard orders list` and its counts by state, aggregated in SQL.

Queries take a session and return plain frozen dataclasses, so commands never see ORM
objects or write SQL of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from provisioning.models import Order, Org


@dataclass(frozen=True, slots=True)
class OrderRow:
    order_id: str
    placed_at: datetime
    state: str
    company_name: str
    provisioning_email: str
    country: str | None
    partner_id: str | None
    partner_name: str | None
    org_id: str | None


def list_orders(session: Session, *, state: str | None = None, limit: int = 500) -> list[OrderRow]:
    """Orders newest first, optionally in one state, with the ordering partner's name."""
    partner = Org.__table__.alias("partner")
    stmt = (
        select(
            Order.order_id,
            Order.placed_at,
            Order.state,
            Order.company_name,
            Order.provisioning_email,
            Order.country,
            Order.partner_id,
            partner.c.name.label("partner_name"),
            Order.org_id,
        )
        .outerjoin(partner, partner.c.org_id == Order.partner_id)
        .order_by(Order.placed_at.desc(), Order.order_id)
        .limit(limit)
    )
    if state is not None:
        stmt = stmt.where(Order.state == state)
    return [OrderRow(**row._mapping) for row in session.execute(stmt)]


def count_orders_by_state(session: Session) -> dict[str, int]:
    stmt = select(Order.state, func.count()).group_by(Order.state)
    return {state: count for state, count in session.execute(stmt)}
