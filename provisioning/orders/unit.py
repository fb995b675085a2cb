"""What every order action shares: one locked transaction, the audit event, the result.

An action loads its order with a row lock (`SELECT … FOR UPDATE` on PostgreSQL; SQLite's
`BEGIN IMMEDIATE` already serialises writers), so two operators acting on one order at
once are queued: the second sees the first one's result and either finds nothing left to
do (an idempotent repeat) or gets a `Conflict`. The order's version column is the second
line of defence: a lost update surfaces as `StaleDataError`, turned into a `Conflict`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from provisioning import audit
from provisioning.access import Actor, limit_to
from provisioning.db import Database
from provisioning.errors import Conflict, NotFound
from provisioning.models import Order, OrderService
from provisioning.models.base import utcnow
from provisioning.orders.workflow import Action, holds_deadline


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What an action did: `changed` is False when it repeated a step already taken."""

    order_id: str
    action: str
    changed: bool
    state: str
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "action": self.action,
            "changed": self.changed,
            "state": self.state,
            "detail": self.detail,
        }


@contextmanager
def locked_order(
    db: Database, order_id: str, actor: Actor | None, now: datetime | None = None
) -> Iterator[tuple[Session, Order]]:
    """One write transaction holding the order's row lock; rolled back on any error.

    The session is scoped to the actor's partner (`None`: a system job such as the
    deadline sweeper), so a partner admin's order of another partner is "not found", and
    so is any org of another partner's it names. A person's action on an order past its
    deadline is refused here, before anything changes (see `Database.setup_deadline_days`).
    """
    try:
        with db.write() as session:
            if actor is not None:
                limit_to(session, actor)
            order = session.get(Order, order_id, with_for_update=True)
            if actor is not None and actor.order_id not in (None, order_id):
                order = None  # a link actor's other orders do not exist for it
            if order is None:
                raise NotFound(f"order {order_id!r} does not exist")
            if actor is not None and db.setup_deadline_days is not None:
                _refuse_past_deadline(session, order, db.setup_deadline_days, now or utcnow())
            yield session, order
    except StaleDataError as exc:
        raise Conflict(
            f"order {order_id} was changed by someone else at the same time; reload it"
        ) from exc
    except IntegrityError as exc:
        raise Conflict(
            f"order {order_id}: the change collided with another one: {exc.orig}"
        ) from exc


def _refuse_past_deadline(session: Session, order: Order, days: int, now: datetime) -> None:
    """The order lines closed at the deadline: nothing can be set up on them any more,
    whether or not the sweep has marked the order expired yet."""
    deadline = order.placed_at + timedelta(days=days)
    if now < deadline:
        return
    services = session.scalars(
        select(OrderService.state).where(OrderService.order_id == order.order_id)
    ).all()
    if holds_deadline(order.state, services):
        raise Conflict(
            f"order {order.order_id}: its deadline passed on {deadline:%Y-%m-%d}, when its "
            "order lines closed; it can no longer be changed (the deadline sweep expires it)"
        )


def snapshot(order: Order) -> dict[str, Any]:
    """The order's workflow fields, as the audit trail records them before and after."""
    return {
        "state": order.state,
        "intent": order.intent,
        "delegate_email": order.delegate_email,
        "provisioning_email": order.provisioning_email,
        "org_id": order.org_id,
        "decision": order.decision,
        "customer_admin_email": order.customer_admin_email,
    }


def record(
    session: Session,
    actor: Actor | str,
    action: Action,
    order: Order,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: datetime,
) -> None:
    """Append the audit event of a change, in the change's own transaction (a plain
    string actor is a system job such as the deadline sweeper)."""
    session.add(
        audit.event(
            actor,
            action.value,
            "order",
            order.order_id,
            _jsonable(before),
            _jsonable(after),
            now,
        )
    )


def _jsonable(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}
