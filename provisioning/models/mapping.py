"""What mapping an order to an existing org leaves behind: approvals and partner access."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from provisioning.models.base import Base, one_of, utcnow
from provisioning.states import ApprovalStatus, PartnerRole


class OrgApproval(Base):
    """A request to the administrator of an established org to accept an order there.

    Attaching to an org with 100+ members or a verified/claimed domain waits for this
    answer, as Control Hub's partner flow does. At most one request per order is pending.
    """

    __tablename__ = "org_approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(64), ForeignKey("orders.order_id"))
    org_id: Mapped[str] = mapped_column(String(64), ForeignKey("orgs.org_id"))
    admin_email: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16), default=ApprovalStatus.PENDING)
    requested_by: Mapped[str] = mapped_column(String(320))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(320))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(one_of("status", ApprovalStatus), name="status"),
        Index(
            "uq_org_approvals_pending_order",
            "order_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index(None, "org_id"),
    )


class PartnerAccess(Base):
    """A partner's role in a customer's org, granted when it provisioned an order there."""

    __tablename__ = "partner_access"

    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("orgs.org_id", ondelete="CASCADE"), primary_key=True
    )
    partner_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("orgs.org_id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[str] = mapped_column(String(64), ForeignKey("orders.order_id"))
    granted_by: Mapped[str] = mapped_column(String(320))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint(one_of("role", PartnerRole), name="role"),
        Index(None, "partner_id"),
    )
