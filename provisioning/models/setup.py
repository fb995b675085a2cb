"""What an order sets up in its org: Meetings sites and Calling locations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from provisioning.models.base import Base, utcnow


class MeetingsSite(Base):
    """A Webex Meetings site; its URL name is unique across every site there is."""

    __tablename__ = "meetings_sites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(64), ForeignKey("orders.order_id"))
    org_id: Mapped[str] = mapped_column(String(64), ForeignKey("orgs.org_id"))
    name: Mapped[str] = mapped_column(String(63), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    early_release: Mapped[bool] = mapped_column(Boolean, default=False)
    licences: Mapped[int] = mapped_column(Integer)
    users_managed_in: Mapped[str] = mapped_column(String(32), default="control_hub")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(320))

    __table_args__ = (Index(None, "order_id"), Index(None, "org_id"))


class CallingLocation(Base):
    """A Webex Calling location; the order's first one is the main office (HQ)."""

    __tablename__ = "calling_locations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(64), ForeignKey("orders.order_id"))
    org_id: Mapped[str] = mapped_column(String(64), ForeignKey("orgs.org_id"))
    name: Mapped[str] = mapped_column(String(80))
    is_main: Mapped[bool] = mapped_column(Boolean, default=True)
    country: Mapped[str] = mapped_column(String(2))
    timezone: Mapped[str] = mapped_column(String(64))
    preferred_language: Mapped[str] = mapped_column(String(16))
    announcement_language: Mapped[str] = mapped_column(String(16))
    address_line1: Mapped[str] = mapped_column(String(255))
    address_line2: Mapped[str | None] = mapped_column(String(255))
    city: Mapped[str] = mapped_column(String(128))
    postal_code: Mapped[str] = mapped_column(String(32))
    state_code: Mapped[str | None] = mapped_column(String(64))
    sip_address: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(320))

    __table_args__ = (Index(None, "order_id"), Index(None, "org_id"))
