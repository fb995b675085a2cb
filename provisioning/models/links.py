"""Credentials that are not passwords: order links sent by e-mail, and the server-side
sessions behind a signed-in person's cookie (and the key that signs it, `AppSecret`).

Both keep only a SHA-256 of their random token, so a copy of the database opens no order
and signs nobody in. They are kept apart on purpose (two tables, two token prefixes): a
link's token can never act as an operator session, nor the reverse.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from provisioning.models.base import Base, one_of, utcnow
from provisioning.states import LinkRole


class OrderLink(Base):
    """One person, one purpose, one order: the link in an e-mail the desk sent.

    Minted when the e-mail is handed to the SMTP server (the queued message holds a
    placeholder, never a token), valid until `expires_at` (the order's deadline), and
    revoked when superseded: a corrected e-mail, a new delegate, an answered approval, an
    unmapped, completed or expired order.
    """

    __tablename__ = "order_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    order_id: Mapped[str] = mapped_column(String(64), ForeignKey("orders.order_id"))
    role: Mapped[str] = mapped_column(String(16))
    email: Mapped[str] = mapped_column(String(320))
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("org_approvals.id"))
    outbox_id: Mapped[int | None] = mapped_column(Integer)  # the e-mail that carried it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(255))
    last_used_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint(one_of("role", LinkRole), name="role"),
        Index(None, "order_id"),
    )


class LinkFailure(Base):
    """A wrong, expired or revoked link opened by one client (a hash of its address):
    counted across app processes so guessing is slowed down everywhere."""

    __tablename__ = "link_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index(None, "client", "at"),)


class SignInSession(Base):
    """A signed-in person's session, behind a signed HttpOnly cookie: it survives reloads
    and new tabs for a working day, ends on sign-out, on disabling the account and on a
    password reset, and an admin can list and revoke it."""

    __tablename__ = "sign_in_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_email: Mapped[str] = mapped_column(
        String(320), ForeignKey("accounts.email", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime | None]
    client: Mapped[str | None] = mapped_column(String(255))  # user agent, for the admin's list
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (Index(None, "account_email"),)


class AppSecret(Base):
    """A key the app generated for itself, kept where every app process finds it: the
    sign-in cookie's signing key when `ONBOARD_SESSION_SECRET` is not set."""

    __tablename__ = "app_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
