"""Orders (subscriptions to provision), their lines, and where each service stands."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from matching.vocabulary import Service
from provisioning.models.base import Base, one_of, utcnow
from provisioning.models.orgs import Org
from provisioning.states import Decision, Intent, OrderState, ServiceState

# The thresholds' three verdicts (`matching.scorer.Review`), spelled out: the models do not
# import the scorer.
RECOMMENDED_REVIEWS = (
    "recommended_review IS NULL OR recommended_review IN ('auto', 'confirm', 'operator')"
)


class Order(Base):
    """One subscription and its workflow state.

    The decision columns record *how* the org was chosen and by whom: that is the history
    the matcher is trained on. `version` makes concurrent edits by two operators detectable.
    """

    __tablename__ = "orders"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    placed_at: Mapped[datetime]
    partner_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("orgs.org_id"))
    provisioning_email: Mapped[str] = mapped_column(String(320))
    company_name: Mapped[str] = mapped_column(String(255))
    country: Mapped[str | None] = mapped_column(String(2))

    state: Mapped[str] = mapped_column(String(32), default=OrderState.AWAITING_INTENT)
    state_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    intent: Mapped[str | None] = mapped_column(String(16))
    delegate_email: Mapped[str | None] = mapped_column(String(320))

    org_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("orgs.org_id"))
    new_org: Mapped[bool] = mapped_column(Boolean, default=False)
    decision: Mapped[str | None] = mapped_column(String(16))
    recommended_org_id: Mapped[str | None] = mapped_column(String(64))
    # The rest of the finder's answer at decision time: how confident it was, what the
    # thresholds made of that (auto / confirm / operator) and which model said it (a
    # version number or "default"), so its confident band can be judged against the
    # decision (`provisioning.finder.watch`). NULL where no answer was recorded.
    recommended_confidence: Mapped[float | None] = mapped_column(Float)
    recommended_review: Mapped[str | None] = mapped_column(
        String(16), CheckConstraint(RECOMMENDED_REVIEWS, name="recommended_review")
    )
    recommended_by_model: Mapped[str | None] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(String(320))
    decided_at: Mapped[datetime | None]
    # Set when the mapping took effect: the point of no return (workflow part 1, step 4).
    mapped_at: Mapped[datetime | None]
    # "My customer will set up their own services": who was asked to continue.
    customer_admin_email: Mapped[str | None] = mapped_column(String(320))
    # Deadline tracking (order lines close after a configurable number of days).
    at_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)

    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    # Declared so the unit of work inserts orgs before the orders that point at them.
    partner: Mapped[Org | None] = relationship(foreign_keys=[partner_id], lazy="raise")
    org: Mapped[Org | None] = relationship(foreign_keys=[org_id], lazy="raise")
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", lazy="raise", order_by="OrderLine.line_no"
    )
    services: Mapped[list[OrderService]] = relationship(back_populates="order", lazy="raise")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    __table_args__ = (
        CheckConstraint(one_of("state", OrderState), name="state"),
        CheckConstraint(f"intent IS NULL OR {one_of('intent', Intent)}", name="intent"),
        CheckConstraint(f"decision IS NULL OR {one_of('decision', Decision)}", name="decision"),
        CheckConstraint("NOT (new_org AND decision IS NULL)", name="new_org_is_a_decision"),
        Index(None, "provisioning_email"),
        Index(None, "partner_id", "state"),
        Index(None, "state", "placed_at"),
        Index(None, "org_id"),
    )

    @property
    def is_decided(self) -> bool:
        return self.decision is not None


class OrderLine(Base):
    """A line of the order: licences of one service, maybe converting a trial or an add-on."""

    __tablename__ = "order_lines"

    order_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("orders.order_id", ondelete="CASCADE"), primary_key=True
    )
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    service: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(Integer)
    is_trial_conversion: Mapped[bool] = mapped_column(Boolean, default=False)
    is_addon: Mapped[bool] = mapped_column(Boolean, default=False)

    order: Mapped[Order] = relationship(back_populates="lines", lazy="raise")

    __table_args__ = (
        CheckConstraint(one_of("service", Service), name="service"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )


class OrderService(Base):
    """Where one service of an order stands (workflow part 2)."""

    __tablename__ = "order_services"

    order_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("orders.order_id", ondelete="CASCADE"), primary_key=True
    )
    service: Mapped[str] = mapped_column(String(16), primary_key=True)
    state: Mapped[str] = mapped_column(String(24), default=ServiceState.PENDING)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(320))
    provisioned_at: Mapped[datetime | None]
    # The wizard's unsaved-but-valid progress, so a person can quit half-way and resume.
    draft: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    order: Mapped[Order] = relationship(back_populates="services", lazy="raise")

    __table_args__ = (
        CheckConstraint(one_of("service", Service), name="service"),
        CheckConstraint(one_of("state", ServiceState), name="state"),
        Index(None, "service", "state"),
    )
