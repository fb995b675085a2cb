"""Deadlines: order lines close a set number of days after the order was placed (Cisco
closes them after 7 days for some offers, 30 for others). An order not set up by then
gets reminders, is flagged at risk, then expires; `onboard orders deadlines` runs it.

Each order is handled in its own locked transaction, so the sweep never blocks the queue
for long and an operator finishing an order at the same moment wins cleanly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from provisioning.db import Database
from provisioning.errors import FieldError, InvalidInput
from provisioning.models import Order, OrderService
from provisioning.models.base import utcnow
from provisioning.orders import emails
from provisioning.orders.unit import locked_order, record, snapshot
from provisioning.orders.workflow import ALLOWED, Action, holds_deadline
from provisioning.settings import Settings
from provisioning.states import OrderState

SWEEPER = "system:deadlines"


@dataclass(frozen=True, slots=True)
class DeadlinePolicy:
    days: int  # after `placed_at`, the order lines close
    reminders: tuple[int, ...]  # days before the deadline, largest first
    at_risk: int  # days before the deadline

    @classmethod
    def from_settings(cls, settings: Settings) -> DeadlinePolicy:
        try:
            reminders = sorted({int(d) for d in settings.reminder_days.split(",") if d.strip()})
        except ValueError:
            raise InvalidInput(
                FieldError("ONBOARD_REMINDER_DAYS", "comma-separated whole numbers of days")
            ) from None
        policy = cls(
            settings.setup_deadline_days, tuple(reversed(reminders)), settings.at_risk_days
        )
        if policy.days < 1 or policy.at_risk < 0 or any(d < 1 for d in reminders):
            raise InvalidInput(FieldError("ONBOARD_SETUP_DEADLINE_DAYS", "days must be positive"))
        return policy

    def deadline(self, placed_at: datetime) -> datetime:
        return placed_at + timedelta(days=self.days)


@dataclass
class SweepReport:
    reminded: list[str] = field(default_factory=list)
    at_risk: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[str]]:
        return {"reminded": self.reminded, "at_risk": self.at_risk, "expired": self.expired}


def sweep(db: Database, policy: DeadlinePolicy, now: datetime | None = None) -> SweepReport:
    """Remind, flag and expire the orders whose deadline is near or past. Idempotent: a
    reminder is sent once per order and day, a flag set once, an expiry done once."""
    now = now or utcnow()
    horizon = max((*policy.reminders, policy.at_risk, 0))
    open_states = [s.value for s in ALLOWED[Action.EXPIRE]]
    with db.read() as session:
        due = session.scalars(
            select(Order.order_id)
            .where(
                Order.state.in_(open_states),
                Order.placed_at <= now - timedelta(days=policy.days - horizon),
            )
            .order_by(Order.placed_at, Order.order_id)
        ).all()
    report = SweepReport()
    for order_id in due:
        _sweep_one(db, order_id, policy, now, report)
    return report


def _sweep_one(
    db: Database, order_id: str, policy: DeadlinePolicy, now: datetime, report: SweepReport
) -> None:
    with locked_order(db, order_id, None) as (session, order):
        services = session.scalars(
            select(OrderService.state).where(OrderService.order_id == order_id)
        ).all()
        if OrderState(order.state) not in ALLOWED[Action.EXPIRE] or not holds_deadline(
            order.state, services
        ):
            return
        deadline = policy.deadline(order.placed_at)
        if now >= deadline:
            before = snapshot(order)
            order.state, order.state_changed_at, order.at_risk = (
                OrderState.EXPIRED.value,
                now,
                False,
            )
            session.flush()
            superseded = emails.after_closed(session, order_id, OrderState.EXPIRED, now)
            emails.queue(session, emails.expired(order, deadline), order, "expired", now)
            after = {**snapshot(order), "deadline": deadline, **superseded}
            record(session, SWEEPER, Action.EXPIRE, order, before, after, now)
            report.expired.append(order_id)
            return
        if not order.at_risk and now >= deadline - timedelta(days=policy.at_risk):
            order.at_risk = True
            record(session, SWEEPER, Action.AT_RISK, order, None, {"deadline": deadline}, now)
            report.at_risk.append(order_id)
        # The nth reminder is due once n reminder days have been reached.
        reached = sum(1 for d in policy.reminders if now >= deadline - timedelta(days=d))
        if reached > order.reminders_sent:
            days_left = max(1, (deadline - now).days)
            email = emails.reminder(order, deadline, days_left)
            emails.queue(session, email, order, f"{reached}", now)
            order.reminders_sent = reached
            report.reminded.append(order_id)
