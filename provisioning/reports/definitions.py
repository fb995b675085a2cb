"""What the reports mean by an open, delegated, deferred, stale, past-SLA and at-risk order:
one definition each, as an SQL condition on `Order`.

The Backlog page and the CLI (`backlog`) and the notebooks' tables (`analysis`) query with
these same conditions, so a manager's tile and an analyst's column count the same orders by
construction, not by two copies kept in step. Instants and day counts are bound as
parameters: the same statements run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, literal, or_
from sqlalchemy.orm import aliased

from provisioning.models import Order, OrderService
from provisioning.states import OrderState, ServiceState

# The backlog: orders still waiting for someone (an intent, an org, an approval, a setup).
OPEN_STATES: tuple[str, ...] = (
    OrderState.AWAITING_INTENT.value,
    OrderState.DELEGATED.value,
    OrderState.AWAITING_ORG.value,
    OrderState.AWAITING_APPROVAL.value,
    OrderState.ORG_MAPPED.value,
)
# A service in one of these states does not move by itself: left for later by the desk, or
# for the customer to set up. A mapped order with one is *deferred*.
DEFERRED_SERVICE_STATES: tuple[ServiceState, ...] = (
    ServiceState.CONFIGURE_LATER,
    ServiceState.CUSTOMER_SELF_SETUP,
)
_DAY = 86_400.0


def has_service_in(*states: ServiceState) -> ColumnElement[bool]:
    """The order has a service in one of `states`. Its own alias of `order_services`: a
    statement that joins that table itself (the service breakdown) must not correlate
    the subquery to its join."""
    service = aliased(OrderService)
    return exists().where(
        service.order_id == Order.order_id, service.state.in_([s.value for s in states])
    )


def is_open() -> ColumnElement[bool]:
    """In the backlog (`OPEN_STATES`)."""
    return Order.state.in_(OPEN_STATES)


def is_delegated() -> ColumnElement[bool]:
    """Handed to someone outside the desk, who has not answered yet."""
    return Order.state == OrderState.DELEGATED.value


def is_deferred() -> ColumnElement[bool]:
    """Mapped, with a service left for later or for the customer (`DEFERRED_SERVICE_STATES`):
    such an order neither completes nor expires by itself."""
    return and_(
        Order.state == OrderState.ORG_MAPPED.value, has_service_in(*DEFERRED_SERVICE_STATES)
    )


def is_stale(now: datetime, stale_days: int) -> ColumnElement[bool]:
    """Delegated or deferred, and untouched (no state change) for more than `stale_days`
    before `now`: the orders someone must chase, since nothing moves them otherwise."""
    idle = Order.state_changed_at < now - timedelta(days=stale_days)
    return and_(idle, or_(is_delegated(), is_deferred()))


def is_past_sla(now: datetime, sla_days: int) -> ColumnElement[bool]:
    """Open and placed more than `sla_days` before `now`."""
    return and_(is_open(), Order.placed_at < now - timedelta(days=sla_days))


def is_at_risk() -> ColumnElement[bool]:
    """Open and flagged at risk by the deadline job (close to its setup deadline)."""
    return and_(is_open(), Order.at_risk.is_(True))


def partner_key() -> ColumnElement[Any]:
    """The ordering partner's id, '' for a direct order: direct orders group as one row."""
    return func.coalesce(Order.partner_id, literal(""))


def days_since(now: datetime, then: datetime | None) -> float | None:
    """Days from `then` to `now`, to a tenth (None without `then`): ages and idle times."""
    return None if then is None else round((now - then).total_seconds() / _DAY, 1)
