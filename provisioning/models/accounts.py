"""People who may sign in, and their role."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from provisioning.models.base import Base, one_of, utcnow
from provisioning.states import Role


class Account(Base):
    """A built-in account (password) or a single sign-on identity (no password).

    A partner admin is bound to the partner org it acts for; nobody else is. Failed
    sign-ins are counted here rather than in the app process, so the limit holds across
    every app process behind one database.
    """

    __tablename__ = "accounts"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    partner_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("orgs.org_id", ondelete="RESTRICT")
    )
    # argon2id PHC string; None: the account signs in through single sign-on only.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    disabled_at: Mapped[datetime | None]
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    last_sign_in_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(320))

    __table_args__ = (
        CheckConstraint(one_of("role", Role), name="role"),
        CheckConstraint(
            "(role = 'partner_admin') = (partner_id IS NOT NULL)", name="partner_admin_partner"
        ),
    )
