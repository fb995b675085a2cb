"""The transactional outbox: e-mails are queued in the same transaction as the change that
causes them, and sent later by `onboard outbox send`.

Queuing is idempotent by `dedupe_key`: the same cause (say, the approval request of one
order) can only ever queue one message, however often the action is repeated.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from provisioning.models import OutboxEmail
from provisioning.models.base import utcnow
from provisioning.states import OutboxStatus


def enqueue(
    session: Session,
    *,
    dedupe_key: str,
    kind: str,
    recipient: str,
    subject: str,
    body: str,
    order_id: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Queue one e-mail in the caller's transaction; False if that cause already queued one.

    `INSERT … ON CONFLICT DO NOTHING` rather than select-then-insert, so two racing
    transactions cannot both queue it.
    """
    now = now or utcnow()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(OutboxEmail.__table__)
        .values(
            dedupe_key=dedupe_key,
            kind=kind,
            order_id=order_id,
            recipient=recipient,
            subject=subject,
            body=body,
            status=OutboxStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    return session.execute(statement).rowcount == 1
