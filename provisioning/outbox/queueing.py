"""Queueing an e-mail in the transaction of the change that causes it, and cancelling the
unsent ones a later change made obsolete.

Queuing is idempotent by `dedupe_key`: the same cause (say, the approval request of one
order) can only ever queue one message, however often the action is repeated. A message
that carries an order link is stored with a `placeholder` where the address goes; the
sender writes the real address only into the copy it hands to the SMTP server.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, update
from sqlalchemy.orm import Session

from provisioning.db import conflict_insert
from provisioning.models import OutboxEmail
from provisioning.models.base import utcnow
from provisioning.states import LinkRole, OutboxStatus

# The actions a message's link can stand for, and the query each adds to the link's URL.
LINK_ACTIONS: dict[str, dict[str, str]] = {
    "open": {},
    "approve": {"answer": "approve"},
    "decline": {"answer": "decline"},
}
_UNSENT = (OutboxStatus.PENDING.value, OutboxStatus.FAILED.value)


def placeholder(action: str = "open") -> str:
    """Where a stored message's link goes; replaced by the real address only in the copy
    handed to the SMTP server. The brackets are not ASCII and are removed from every
    value a person typed (`provisioning.orders.emails`), so no text can fake one."""
    if action not in LINK_ACTIONS:
        raise ValueError(f"unknown link action {action!r}")
    return f"\u27e6link:{action}\u27e7"


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
    html: str | None = None,
    lang: str | None = None,
    link_role: LinkRole | None = None,
    approval_id: int | None = None,
) -> bool:
    """Queue one e-mail in the caller's transaction; False if that cause already queued one.

    `html` is the HTML alternative of `body` and `lang` the language of both; a message
    with a `link_role` gets an order link for its recipient when it is sent (an approver's
    bound to `approval_id`), put where the text holds `placeholder(...)`.

    `INSERT … ON CONFLICT DO NOTHING` rather than select-then-insert, so two racing
    transactions cannot both queue it. `RETURNING` tells whether a row went in: the
    driver's rowcount is -1 for this statement on PostgreSQL (psycopg 3).
    """
    now = now or utcnow()
    statement = (
        conflict_insert(session, OutboxEmail.__table__)
        .values(
            dedupe_key=dedupe_key,
            kind=kind,
            order_id=order_id,
            recipient=recipient,
            subject=subject,
            body=body,
            html=html,
            lang=lang,
            link_role=None if link_role is None else LinkRole(link_role).value,
            approval_id=approval_id,
            status=OutboxStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxEmail.__table__.c.id)
    )
    return session.execute(statement).first() is not None


# --- Cancelling what a change made obsolete -------------------------------------------

IN_FLIGHT_NOTE = "; it was already being sent and could not be stopped"


@dataclass(frozen=True, slots=True)
class Cancelled:
    """What `cancel_obsolete` did: the e-mails it cancelled, and the ones it could not
    stop because a sender had already taken them (marked with the reason all the same)."""

    cancelled: list[int] = field(default_factory=list)
    in_flight: list[int] = field(default_factory=list)

    def audit(self) -> dict[str, list[int]]:
        """For the `after` of the change's audit event: empty when nothing was touched."""
        noted: dict[str, list[int]] = {}
        if self.cancelled:
            noted["cancelled_emails"] = self.cancelled
        if self.in_flight:
            noted["emails_already_sending"] = self.in_flight
        return noted


def cancel_obsolete(
    session: Session,
    order_id: str,
    reason: str,
    now: datetime,
    *,
    kinds: Iterable[str] | None = None,
    recipient: str | None = None,
    except_recipient: str | None = None,
    approval_id: int | None = None,
) -> Cancelled:
    """Cancel the order's unsent e-mails a change made obsolete, in the change's transaction.

    The one place that decides it, called by every workflow action that supersedes mail:
    of `kinds` (all when None), to `recipient` (or to anyone but `except_recipient`), of
    one approval request. Pending and failed messages become `cancelled` with `reason`
    (a failed one could otherwise be re-queued by `outbox retry`). A message in `sending`
    is in the SMTP server's hands: it cannot be stopped, so it keeps its status and gets
    the reason with `IN_FLIGHT_NOTE`, shown by `outbox list`; should that attempt fail, it
    is cancelled instead of being retried. The caller revokes the links it supersedes.
    """
    criteria: list[ColumnElement[bool]] = [OutboxEmail.order_id == order_id]
    if kinds is not None:
        criteria.append(OutboxEmail.kind.in_(list(kinds)))
    if recipient is not None:
        criteria.append(OutboxEmail.recipient == recipient)
    if except_recipient is not None:
        criteria.append(OutboxEmail.recipient != except_recipient)
    if approval_id is not None:
        criteria.append(OutboxEmail.approval_id == approval_id)
    reason = reason[:200]
    cancelled = session.scalars(
        update(OutboxEmail)
        .where(*criteria, OutboxEmail.status.in_(_UNSENT))
        .values(status=OutboxStatus.CANCELLED.value, cancelled_reason=reason)
        .returning(OutboxEmail.id)
        .execution_options(synchronize_session=False)
    ).all()
    in_flight = session.scalars(
        update(OutboxEmail)
        .where(
            *criteria,
            OutboxEmail.status == OutboxStatus.SENDING.value,
            OutboxEmail.cancelled_reason.is_(None),
        )
        .values(cancelled_reason=(reason + IN_FLIGHT_NOTE)[:255])
        .returning(OutboxEmail.id)
        .execution_options(synchronize_session=False)
    ).all()
    return Cancelled(sorted(cancelled), sorted(in_flight))
