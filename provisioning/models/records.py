"""Side records: the e-mail outbox, the audit trail and the scorer's model versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from provisioning.models.base import Base, one_of, utcnow
from provisioning.states import OutboxStatus


class OutboxEmail(Base):
    """An e-mail written in the same transaction as the change that causes it.

    `dedupe_key` is unique: the same cause can only ever queue one message, and the sender
    marks it sent exactly once.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[str | None] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    # The HTML alternative of `body`, and the language both are written in.
    html: Mapped[str | None] = mapped_column(Text)
    lang: Mapped[str | None] = mapped_column(String(8))
    # The order link the message carries (minted when it is sent; the stored text holds a
    # placeholder): who it is for and, for an approver, which request.
    link_role: Mapped[str | None] = mapped_column(String(16))
    approval_id: Mapped[int | None] = mapped_column(Integer)
    # Why it was cancelled before being sent (status `cancelled`).
    cancelled_reason: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # When a sender took it: a message stuck in `sending` is reported, never re-sent.
    claimed_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint(one_of("status", OutboxStatus), name="status"),
        Index(None, "status", "next_attempt_at"),
        Index(None, "order_id"),
    )


class AuditEvent(Base):
    """Who did what, when, to which record, with the record before and after. Append-only."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(320))
    role: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        Index(None, "entity_type", "entity_id"),
        Index(None, "at"),
        Index(None, "actor"),
    )


def _activated_if_active(context: Any) -> datetime | None:
    """A version stored already active was activated as it was stored."""
    return utcnow() if context.get_current_parameters().get("is_active") else None


class ModelVersion(Base):
    """A trained scorer: its artifact in a format that cannot run code on load, and why.

    Exactly one version is active at a time; the app and `onboard match` use it.
    """

    __tablename__ = "model_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(320))
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)
    # When it last became the active version: stored active (`onboard train`, `publish`)
    # or activated later (`onboard models activate`). NULL: never active. Decisions since
    # then are the production record of its confident band (`provisioning.finder.watch`).
    activated_at: Mapped[datetime | None] = mapped_column(default=_activated_if_active)
    artifact_format: Mapped[str] = mapped_column(String(16), default="skops")
    artifact: Mapped[bytes] = mapped_column(LargeBinary)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    training_data: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (CheckConstraint("artifact_format IN ('skops')", name="artifact_format"),)
