"""What one run of the sender reports: each message's outcome, and the messages in
`sending` that it is not sending (another sender's, or a stopped one's, which may have
been delivered), with how long a claim lasts before it counts as stuck.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from provisioning.db import Database
from provisioning.models import OutboxEmail
from provisioning.models.base import utcnow
from provisioning.settings import Settings
from provisioning.states import OutboxStatus


class Result(StrEnum):
    """What one run of the sender did with one message."""

    SENT = "sent"
    RETRY = "retry"  # not taken this time; pending again with a later next_attempt_at
    FAILED = "failed"  # permanent answer, or the last attempt allowed
    SKIPPED = "skipped"  # another sender claimed it first
    CANCELLED = "cancelled"  # obsolete when it came to be sent (its reason is kept)


@dataclass(frozen=True, slots=True)
class Outcome:
    id: int
    recipient: str
    result: Result
    attempts: int
    error: str | None = None
    next_attempt_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "recipient": self.recipient,
            "result": self.result.value,
            "attempts": self.attempts,
            "error": self.error,
            "next_attempt_at": self.next_attempt_at,
        }


@dataclass(frozen=True, slots=True)
class Sending:
    """The messages in `sending` that this sender is not sending: another sender's, or a
    stopped sender's, and then each may have been delivered. `stuck` counts the ones
    claimed longer than `stuck_after` ago (their sender stopped); `since` is the oldest
    claim."""

    count: int = 0
    stuck: int = 0
    since: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "stuck": self.stuck, "since": self.since}


@dataclass(slots=True)
class SendReport:
    """One run of `send_due`. `unreachable` is the reason no SMTP session could be opened;
    `postponed` counts the due messages that were moved back because of it. `database`
    is the database failure that ended the run (`send_every` only; the messages it had
    delivered and not yet marked sent are `unrecorded`)."""

    outcomes: list[Outcome] = field(default_factory=list)
    postponed: int = 0
    unreachable: str | None = None
    remaining: int = 0  # still due after the run (the --limit was reached)
    sending: Sending = field(default_factory=Sending)
    database: SQLAlchemyError | None = None
    unrecorded: list[int] = field(default_factory=list)

    def _count(self, result: Result) -> int:
        return sum(1 for o in self.outcomes if o.result is result)

    @property
    def sent(self) -> int:
        return self._count(Result.SENT)

    @property
    def retried(self) -> int:
        return self._count(Result.RETRY)

    @property
    def failed(self) -> int:
        return self._count(Result.FAILED)

    @property
    def skipped(self) -> int:
        return self._count(Result.SKIPPED)

    @property
    def cancelled(self) -> int:
        return self._count(Result.CANCELLED)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "retried": self.retried,
            "failed": self.failed,
            "skipped": self.skipped,
            "cancelled": self.cancelled,
            "postponed": self.postponed,
            "remaining": self.remaining,
            "unreachable": self.unreachable,
            "sending": self.sending.to_dict(),
            "outcomes": [o.to_dict() for o in self.outcomes],
        }


def stuck_after(settings: Settings) -> timedelta:
    """How long a claim lasts before it counts as stuck.

    One send waits on the server a handful of times (connect, STARTTLS, login, MAIL, RCPT,
    DATA), each bounded by `smtp_timeout`; a claim much older than that belongs to a
    sender that stopped. Re-queuing a younger one could send it twice.
    """
    return max(timedelta(minutes=15), 10 * timedelta(seconds=settings.smtp_timeout))


def sending(db: Database, older_than: timedelta, now: datetime | None = None) -> Sending:
    """How many messages are in `sending`, how many of them are stuck (claimed longer than
    `older_than` ago) and since when: what every run of the sender reports."""
    stuck_before = (now or utcnow()) - older_than
    with db.read() as session:
        count, stuck_count, since = session.execute(
            select(
                func.count(),
                func.count().filter(OutboxEmail.claimed_at < stuck_before),
                func.min(OutboxEmail.claimed_at),
            ).where(OutboxEmail.status == OutboxStatus.SENDING.value)
        ).one()
    return Sending(count or 0, stuck_count or 0, since)
