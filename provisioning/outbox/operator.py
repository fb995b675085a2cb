"""What a person does with the outbox: list the messages (which ones are stuck in
`sending` and may have been delivered), and put failed or stuck ones back in the queue,
on purpose and audited.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning import audit
from provisioning.access import Actor, Permission, authorize
from provisioning.db import Database
from provisioning.errors import FieldError, InvalidInput
from provisioning.models import OutboxEmail
from provisioning.models.base import utcnow
from provisioning.states import OutboxStatus


def _row(email: OutboxEmail, stuck_before: datetime) -> dict[str, Any]:
    in_sending = email.status == OutboxStatus.SENDING.value
    return {
        "id": email.id,
        "status": email.status,
        "stuck": in_sending and email.claimed_at is not None and email.claimed_at < stuck_before,
        # The server may have taken it (its sender stopped, or is sending it this moment).
        "may_have_been_delivered": in_sending,
        "kind": email.kind,
        "order_id": email.order_id,
        "recipient": email.recipient,
        "subject": email.subject,
        "attempts": email.attempts,
        "next_attempt_at": email.next_attempt_at,
        "last_error": email.last_error,
        "created_at": email.created_at,
        "claimed_at": email.claimed_at,
        "sent_at": email.sent_at,
        "dedupe_key": email.dedupe_key,
        "cancelled_reason": email.cancelled_reason,
        "lang": email.lang,
        "link_role": email.link_role,
    }


def list_messages(
    db: Database,
    *,
    status: OutboxStatus | None = None,
    order_id: str | None = None,
    older_than: timedelta = timedelta(minutes=15),
    now: datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """Messages in id order, streamed (the outbox keeps every sent message).

    `stuck` is true for a message claimed longer ago than `older_than`;
    `may_have_been_delivered` for every message in `sending`.
    """
    stuck_before = (now or utcnow()) - older_than
    statement = select(OutboxEmail).order_by(OutboxEmail.id)
    if status is not None:
        statement = statement.where(OutboxEmail.status == OutboxStatus(status).value)
    if order_id is not None:
        statement = statement.where(OutboxEmail.order_id == order_id)
    with db.read() as session:
        for email in session.scalars(statement.execution_options(yield_per=500)):
            yield _row(email, stuck_before)


def stuck(db: Database, older_than: timedelta, now: datetime | None = None) -> list[dict[str, Any]]:
    """Messages left in `sending` longer than `older_than`: their sender stopped mid-send,
    so nobody knows whether they arrived. A person decides (`requeue`)."""
    now = now or utcnow()
    return [
        row
        for row in list_messages(db, status=OutboxStatus.SENDING, older_than=older_than, now=now)
        if row["stuck"]
    ]


def requeue(
    db: Database, ids: Iterable[int], actor: Actor, now: datetime | None = None
) -> list[int]:
    """Put messages stuck in `sending` back in the queue, on purpose and audited: the
    caller accepted that each may already have been delivered (`may_duplicate` in the
    audit event).

    The ids that were not in `sending` are left alone; the ones changed are returned.
    Attempts are kept: whether the stuck one reached the server is unknown.
    """
    authorize(actor, Permission.RETRY_EMAIL)
    now = now or utcnow()
    with db.write() as session:
        rows = _locked(session, list(ids), OutboxStatus.SENDING)
        return _back_to_pending(
            session, rows, actor, now, "outbox.requeue", False, may_duplicate=True
        )


def retry_failed(
    db: Database, ids: Iterable[int] | None, actor: Actor, now: datetime | None = None
) -> list[int]:
    """Put failed messages (all of them when `ids` is None) back in the queue, audited.

    Their attempts start again from zero: someone fixed the cause (a mailbox, the SMTP
    settings), so the message deserves a full set of attempts.
    """
    authorize(actor, Permission.RETRY_EMAIL)
    now = now or utcnow()
    with db.write() as session:
        rows = _locked(session, None if ids is None else list(ids), OutboxStatus.FAILED)
        return _back_to_pending(session, rows, actor, now, "outbox.retry", reset_attempts=True)


def retry(
    db: Database,
    ids: Sequence[int],
    actor: Actor,
    *,
    older_than: timedelta,
    now: datetime | None = None,
    may_duplicate: bool = False,
) -> list[int]:
    """`onboard outbox retry`: every failed message, or exactly the ids named, which must
    be failed or stuck (claimed longer than `older_than` ago). All or nothing: any other id
    refuses the whole request with every reason.

    A stuck message may already have been delivered (its sender stopped between the claim
    and marking it sent), so re-sending it is a deliberate choice: refused unless
    `may_duplicate`, and the audit event says it was accepted."""
    authorize(actor, Permission.RETRY_EMAIL)
    now = now or utcnow()
    if not ids:
        return retry_failed(db, None, actor, now)
    wanted = list(dict.fromkeys(ids))
    with db.write() as session:
        rows = {
            row.id: row
            for row in session.scalars(
                select(OutboxEmail).where(OutboxEmail.id.in_(wanted)).with_for_update()
            )
        }
        errors = [
            error
            for i in wanted
            if (error := _not_retryable(rows.get(i), i, now, older_than, may_duplicate))
        ]
        if errors:
            raise InvalidInput(errors, summary=f"{len(errors)} e-mail(s) cannot be retried")
        failed = [rows[i] for i in wanted if rows[i].status == OutboxStatus.FAILED.value]
        sending = [rows[i] for i in wanted if rows[i].status == OutboxStatus.SENDING.value]
        changed = _back_to_pending(session, failed, actor, now, "outbox.retry", True)
        changed += _back_to_pending(
            session, sending, actor, now, "outbox.requeue", False, may_duplicate=True
        )
    return sorted(changed)


def _not_retryable(
    email: OutboxEmail | None,
    email_id: int,
    now: datetime,
    older_than: timedelta,
    may_duplicate: bool,
) -> FieldError | None:
    value = str(email_id)
    if email is None:
        return FieldError("ID", "no such e-mail", value=value)
    if email.cancelled_reason is not None:
        return FieldError(
            "ID", f"obsolete, never to be sent again: {email.cancelled_reason}", value=value
        )
    if email.status == OutboxStatus.SENT.value:
        return FieldError("ID", f"already sent at {_when(email.sent_at)}", value=value)
    if email.status == OutboxStatus.PENDING.value:
        return FieldError(
            "ID", f"already queued (next attempt {_when(email.next_attempt_at)})", value=value
        )
    claimed_at = email.claimed_at
    # A `sending` row without a claim time was not claimed by a sender: nothing to wait for.
    if email.status == OutboxStatus.SENDING.value and claimed_at and claimed_at > now - older_than:
        return FieldError(
            "ID",
            f"a sender took it at {_when(claimed_at)} and may still be sending it; "
            f"it counts as stuck {older_than.total_seconds() / 60:.0f} minutes after that",
            value=value,
        )
    if email.status == OutboxStatus.SENDING.value and not may_duplicate:
        return FieldError(
            "ID",
            f"stuck in sending since {_when(claimed_at)}: its sender stopped after taking it, "
            "possibly after the SMTP server had accepted it, so it MAY ALREADY HAVE ARRIVED "
            "and re-sending it can deliver it twice (with the same Message-ID, which not "
            "every mail system drops). Ask the recipient or check the SMTP server's log; "
            "to re-send it anyway, add --may-duplicate",
            value=value,
        )
    return None


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment else "an unknown time"


def _locked(session: Session, ids: list[int] | None, status: OutboxStatus) -> list[OutboxEmail]:
    # An e-mail made obsolete while it was being sent is never put back in the queue.
    statement = select(OutboxEmail).where(
        OutboxEmail.status == status.value, OutboxEmail.cancelled_reason.is_(None)
    )
    if ids is not None:
        statement = statement.where(OutboxEmail.id.in_(ids))
    return list(session.scalars(statement.order_by(OutboxEmail.id).with_for_update()))


def _back_to_pending(
    session: Session,
    rows: list[OutboxEmail],
    actor: Actor,
    now: datetime,
    action: str,
    reset_attempts: bool,
    *,
    may_duplicate: bool = False,
) -> list[int]:
    """Due now, audited one event per message with what it looked like before (and, for
    a possibly delivered one, that the person accepted a possible duplicate)."""
    events = []
    for email in rows:
        before = {
            "status": email.status,
            "attempts": email.attempts,
            "last_error": email.last_error,
            "claimed_at": email.claimed_at.isoformat() if email.claimed_at else None,
        }
        email.status = OutboxStatus.PENDING.value
        email.next_attempt_at = now
        if reset_attempts:
            email.attempts = 0
        after: dict[str, Any] = {"status": email.status, "attempts": email.attempts}
        if may_duplicate:
            after["may_duplicate"] = True
        events.append(audit.event(actor, action, "outbox_email", str(email.id), before, after, now))
    session.add_all(events)
    return [email.id for email in rows]
