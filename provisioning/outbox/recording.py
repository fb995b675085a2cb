"""Writing down what the SMTP server said about a claimed message, each in its own short
transaction: sent; failed, or pending again after a growing delay; given back unsent;
and every due message moved back when the server could not be reached.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from provisioning.db import Database
from provisioning.models import OutboxEmail
from provisioning.outbox.claiming import Claimed, due, not_delivered
from provisioning.outbox.report import Outcome, Result, SendReport
from provisioning.settings import Settings
from provisioning.states import OutboxStatus

# However many attempts are allowed, a message never waits longer than this between two.
MAX_RETRY_DELAY = timedelta(days=1)
_ERROR_CHARS = 2000  # an SMTP answer, not a transcript


def retry_delay(settings: Settings, attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: the first delay, doubled each time."""
    seconds = settings.outbox_retry_seconds * 2 ** min(max(attempts - 1, 0), 32)
    return timedelta(seconds=min(seconds, MAX_RETRY_DELAY.total_seconds()))


def record_sent(db: Database, claimed: Claimed, now: datetime) -> Outcome:
    """Sent is sent: also over a person's re-queue that raced this send, so the re-queued
    copy is not delivered a second time. An earlier attempt's error no longer applies
    (`outbox list` would show a delivered message with a failure)."""
    attempts = claimed.attempts + 1
    with db.write() as session:
        session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id == claimed.id, OutboxEmail.status != OutboxStatus.SENT.value)
            .values(status=OutboxStatus.SENT.value, sent_at=now, attempts=attempts, last_error=None)
            .execution_options(synchronize_session=False)
        )
    return Outcome(claimed.id, claimed.recipient, Result.SENT, attempts)


def record_failure(
    db: Database,
    settings: Settings,
    claimed: Claimed,
    now: datetime,
    error: str,
    permanent: bool,
) -> Outcome:
    attempts = claimed.attempts + 1
    error = error[:_ERROR_CHARS]
    values: dict[str, Any] = {"attempts": attempts, "last_error": error}
    with db.write() as session:
        if _obsoleted_in_flight(session, claimed):
            values["status"] = OutboxStatus.CANCELLED.value
            outcome = Outcome(claimed.id, claimed.recipient, Result.CANCELLED, attempts, error)
        elif permanent or attempts >= settings.outbox_max_attempts:
            values["status"] = OutboxStatus.FAILED.value
            outcome = Outcome(claimed.id, claimed.recipient, Result.FAILED, attempts, error)
        else:
            retry_at = now + retry_delay(settings, attempts)
            values |= {"status": OutboxStatus.PENDING.value, "next_attempt_at": retry_at}
            outcome = Outcome(
                claimed.id, claimed.recipient, Result.RETRY, attempts, error, retry_at
            )
        session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id == claimed.id, OutboxEmail.status == OutboxStatus.SENDING.value)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        not_delivered(session, claimed, now)
    return outcome


def release(db: Database, settings: Settings, claimed: Claimed, now: datetime, error: str) -> None:
    """Give back a claimed message that never reached the server (no attempt used)."""
    with db.write() as session:
        obsolete = _obsoleted_in_flight(session, claimed)
        session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id == claimed.id, OutboxEmail.status == OutboxStatus.SENDING.value)
            .values(
                status=(OutboxStatus.CANCELLED if obsolete else OutboxStatus.PENDING).value,
                next_attempt_at=now + retry_delay(settings, 1),
                last_error=error[:_ERROR_CHARS],
            )
            .execution_options(synchronize_session=False)
        )
        not_delivered(session, claimed, now)


def _obsoleted_in_flight(session: Session, claimed: Claimed) -> bool:
    """Was the message made obsolete while it was being sent (`cancel_obsolete`)? Then an
    attempt that did not get through is its last.

    Locks the outbox row before the link's (`not_delivered`), in the order a workflow
    action's `cancel_obsolete` and `links.revoke` take them, so the two cannot deadlock.
    """
    reason = session.scalar(
        select(OutboxEmail.cancelled_reason).where(OutboxEmail.id == claimed.id).with_for_update()
    )
    return reason is not None


def record_unreachable(
    db: Database, settings: Settings, now: datetime, report: SendReport, error: str
) -> SendReport:
    """Move every due message back by the first retry delay, attempts untouched."""
    with db.write() as session:
        moved = session.execute(
            update(OutboxEmail)
            .where(*due(now))
            .values(next_attempt_at=now + retry_delay(settings, 1), last_error=error[:_ERROR_CHARS])
            .execution_options(synchronize_session=False)
        )
    report.postponed += moved.rowcount
    report.unreachable = error
    report.remaining = 0
    return report
