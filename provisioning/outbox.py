"""The transactional outbox: e-mails are queued in the same transaction as the change that
causes them, and sent later by `onboard outbox send`.

Queuing is idempotent by `dedupe_key`: the same cause (say, the approval request of one
order) can only ever queue one message, however often the action is repeated.

Sending is at most once per claim: a message is claimed (pending → sending) right before
its SMTP transaction and marked sent right after the server's 250 to DATA, each in its own
short transaction, and it is never claimed again by a program, only by a person who
re-queues it on purpose (`retry(..., may_duplicate=True)`). A sender killed between the
two leaves it in `sending`, where nobody can know whether it arrived: every run reports
such messages (`SendReport.sending`), and `outbox list` flags them. Its Message-ID comes
from the dedupe key, so a receiver can drop the copy such a re-queue might produce.
`provisioning.mailer` holds the SMTP side.

A database failure during a run ends that run, not the sender: what it had already done at
the SMTP server but could not write down (a message delivered, one refused) is kept in
memory (`Backlog`) and written first by the next run, so a delivered message is marked sent
as soon as the database is back.

A message that carries an order link is stored with a placeholder where the address goes
(`placeholder`): the token is minted when the message is claimed, put into the copy handed
to the SMTP server and kept nowhere else (not in the row, the audit trail or a log); if the
server does not take the message, that link is revoked at once ("not delivered").

An e-mail a later change makes obsolete (a new contact, an answered approval, a complete
order, …) is cancelled in that change's transaction by `cancel_obsolete`, the one place
that decides it; a message already in `sending` cannot be stopped and says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from html import escape as html_escape
from typing import Any, Protocol

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from provisioning import audit
from provisioning.access import Actor, Permission, authorize, links
from provisioning.db import Database, conflict_insert
from provisioning.errors import FieldError, InvalidInput
from provisioning.mailer import (
    DeliveryFailed,
    MailServerUnreachable,
    SmtpMailer,
    build_message,
    check_settings,
)
from provisioning.models import Order, OrderLink, OrgApproval, OutboxEmail
from provisioning.models.base import utcnow
from provisioning.settings import Settings
from provisioning.states import ApprovalStatus, LinkRole, OrderState, OutboxStatus

# The actions a message's link can stand for, and the query each adds to the link's URL.
LINK_ACTIONS: dict[str, dict[str, str]] = {
    "open": {},
    "approve": {"answer": "approve"},
    "decline": {"answer": "decline"},
}
_UNSENT = (OutboxStatus.PENDING.value, OutboxStatus.FAILED.value)
log = logging.getLogger("onboard.outbox")


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


# --- Sending --------------------------------------------------------------------------

# However many attempts are allowed, a message never waits longer than this between two.
MAX_RETRY_DELAY = timedelta(days=1)
_ERROR_CHARS = 2000  # an SMTP answer, not a transcript


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


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    dedupe_key: str
    recipient: str
    subject: str
    body: str
    attempts: int
    order_id: str | None = None
    html: str | None = None
    lang: str | None = None
    link_role: str | None = None
    approval_id: int | None = None
    claimed_at: datetime | None = None  # this sender's claim, once it holds one
    # The link minted for this send: in memory only, never written anywhere.
    token: str | None = field(default=None, repr=False)
    urls: dict[str, str] = field(default_factory=dict, repr=False)


def retry_delay(settings: Settings, attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: the first delay, doubled each time."""
    seconds = settings.outbox_retry_seconds * 2 ** min(max(attempts - 1, 0), 32)
    return timedelta(seconds=min(seconds, MAX_RETRY_DELAY.total_seconds()))


@dataclass(frozen=True, slots=True)
class _Unwritten:
    """A result known at the SMTP server that the database failed to take."""

    email_id: int
    delivered: bool  # the server took it: it must end as sent, never be sent again
    write: Callable[[], Outcome | None]


@dataclass(slots=True)
class Backlog:
    """What a sender did and could not write down because the database failed: kept in
    memory by a long-running sender and written, in order, before anything else is
    sent. A delivered message stays in `sending` meanwhile, which no sender claims."""

    steps: list[_Unwritten] = field(default_factory=list)

    @property
    def delivered(self) -> list[int]:
        """The messages the server took that are not yet marked sent."""
        return [step.email_id for step in self.steps if step.delivered]

    def write(self, report: SendReport) -> None:
        """Write every step, oldest first; a database error leaves the rest for later."""
        while self.steps:
            outcome = self.steps[0].write()
            self.steps.pop(0)
            if outcome is not None:
                report.outcomes.append(outcome)

    def write_within(self, seconds: float, pause: float = 1.0) -> list[Outcome]:
        """For a sender about to exit: keep trying for `seconds` (a restarting database is
        back within a few), so what it delivered does not stay in `sending`."""
        report, deadline = SendReport(), time.monotonic() + seconds
        while self.steps:
            try:
                self.write(report)
            except SQLAlchemyError:
                log.debug("the database is still failing", exc_info=True)
                if time.monotonic() + pause > deadline:
                    break
                time.sleep(pause)
        return report.outcomes

    def attempt(
        self, email_id: int, write: Callable[[], Outcome | None], *, delivered: bool = False
    ) -> Outcome | None:
        """Run `write` now; if the database fails, keep it for the next run and re-raise."""
        try:
            return write()
        except SQLAlchemyError:
            self.steps.append(_Unwritten(email_id, delivered, write))
            raise


def send_due(
    db: Database,
    settings: Settings,
    now: datetime | None = None,
    limit: int = 100,
    backlog: Backlog | None = None,
) -> SendReport:
    """Send up to `limit` due messages over one SMTP session; never one message twice.

    Each message is claimed (pending → sending) in its own transaction by a conditional
    UPDATE right before its SMTP transaction (the session is opened first, so connecting
    and logging in happen outside the claim), and marked sent in another one right after
    the server's 250 to DATA. A sender that dies in between leaves it in `sending`: the
    ambiguous window, as small as SMTP allows. Such messages are reported by every run
    (`SendReport.sending`) and re-queued only by a person who accepts a possible
    duplicate (`retry(..., may_duplicate=True)`).

    A database error ends the run (it propagates); what the run had done at the server
    and not yet written down stays in `backlog`, which the next run given the same
    backlog writes first.

    If no session can be opened, nothing was tried: the due messages keep their attempts
    and wait `outbox_retry_seconds` (an outage of the server must not use up, and then
    fail, every queued message; the run reports it instead).

    `now` fixes the clock (tests); otherwise each step reads the time when it happens.
    """
    report = SendReport()
    _run(db, settings, now, limit, Backlog() if backlog is None else backlog, report)
    return report


def _run(
    db: Database,
    settings: Settings,
    now: datetime | None,
    limit: int,
    backlog: Backlog,
    report: SendReport,
) -> SendReport:
    """`send_due` into `report`, which keeps what was done should a database error end it."""
    check_settings(settings)

    def clock() -> datetime:
        return now if now is not None else utcnow()

    backlog.write(report)
    report.sending = sending(db, stuck_after(settings), clock())
    if _due_count(db, clock()) == 0:
        return report
    with SmtpMailer(settings) as mailer:
        try:
            mailer.open()
        except MailServerUnreachable as exc:
            return _unreachable(db, settings, clock(), report, str(exc))
        handled: list[int] = []
        while len(handled) < limit:
            try:  # a session the server closed is reopened before the claim, not after
                mailer.open()
            except MailServerUnreachable as exc:
                return _unreachable(db, settings, clock(), report, str(exc))
            claimed, result = _claim_next(db, settings, clock(), handled, backlog)
            if claimed is None:
                break
            handled.append(claimed.id)
            if result is not None:  # skipped (another sender has it) or cancelled
                report.outcomes.append(
                    Outcome(claimed.id, claimed.recipient, result, claimed.attempts)
                )
                continue
            outcome = _send_one(db, settings, mailer, claimed, clock, backlog)
            if isinstance(outcome, str):  # the server went away before it took the message
                report.postponed += 1
                return _unreachable(db, settings, clock(), report, outcome)
            if outcome is not None:
                report.outcomes.append(outcome)
    report.remaining = _due_count(db, clock())
    return report


def _send_one(
    db: Database,
    settings: Settings,
    mailer: SmtpMailer,
    claimed: _Claimed,
    clock: Callable[[], datetime],
    backlog: Backlog,
) -> Outcome | str | None:
    """Hand one claimed message to the server and write down what it said, at once and
    in its own transaction; why not, when the server could not be reached (released)."""
    try:
        _deliver(mailer, settings, claimed, clock())
    except MailServerUnreachable as exc:
        when, error = clock(), str(exc)
        backlog.attempt(claimed.id, lambda: _release(db, settings, claimed, when, error))
        return error
    except DeliveryFailed as exc:
        when, text, permanent = clock(), exc.text, exc.permanent
        return backlog.attempt(
            claimed.id, lambda: _record_failure(db, settings, claimed, when, text, permanent)
        )
    when = clock()
    return backlog.attempt(claimed.id, lambda: _record_sent(db, claimed, when), delivered=True)


class StopSignal(Protocol):
    """What tells a long-running sender to stop: a `threading.Event` or a
    `multiprocessing.Event` (`wait` returns True once it is set)."""

    def wait(self, timeout: float | None = None) -> bool: ...


def send_every(
    db: Database, settings: Settings, every: float, stop: StopSignal, limit: int = 100
) -> Iterator[SendReport]:
    """`onboard outbox send --every`: the sender as its own long-running process.

    One `send_due` run, then a wait of `every` seconds, until `stop` is set; the report of
    each run is yielded. A run that reached `limit` is followed by the next at once, so a
    burst drains at full speed. An unreachable server does not end the loop: `send_due`
    already moved the due e-mails back by a retry delay, and the next run tries again.

    Neither does a failing database (a PostgreSQL restart, a busy SQLite): the run ends
    with `report.database` set, the loop waits as usual and tries again, and the messages
    the run had delivered are marked sent first thing once the database answers (the
    connection pool replaces the dead connections).
    """
    backlog = Backlog()
    while True:
        report = SendReport()
        try:
            _run(db, settings, None, limit, backlog, report)
        except SQLAlchemyError as exc:  # what the run did before it stays in the report
            log.debug("an outbox run failed on the database", exc_info=True)
            report.database, report.unrecorded = exc, backlog.delivered
        yield report
        if stop.wait(0 if report.remaining and report.database is None else every):
            return


def _deliver(mailer: SmtpMailer, settings: Settings, claimed: _Claimed, now: datetime) -> None:
    try:
        message = build_message(
            settings,
            dedupe_key=claimed.dedupe_key,
            recipient=claimed.recipient,
            subject=claimed.subject,
            body=fill_links(claimed.body, claimed.urls, html=False),
            html=None if claimed.html is None else fill_links(claimed.html, claimed.urls, True),
            lang=claimed.lang,
            date=now,
        )
    except (ValueError, LookupError) as exc:
        raise DeliveryFailed(f"cannot write the message: {exc}", permanent=True) from exc
    mailer.send(message, claimed.recipient)


def _due(now: datetime) -> list[ColumnElement[bool]]:
    return [
        OutboxEmail.status == OutboxStatus.PENDING.value,
        OutboxEmail.next_attempt_at <= now,
    ]


def _due_count(db: Database, now: datetime) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(OutboxEmail).where(*_due(now))) or 0


def fill_links(text: str, urls: dict[str, str], html: bool) -> str:
    """The message text with its link placeholders replaced (escaped for HTML); a
    placeholder without a link (none was minted) is an error, not a dead button."""
    for action in LINK_ACTIONS:
        mark = placeholder(action)
        if mark in text:
            if action not in urls:
                raise ValueError(f"the message needs a {action} link and has none")
            text = text.replace(mark, html_escape(urls[action]) if html else urls[action])
    return text


_COLUMNS = (
    OutboxEmail.id,
    OutboxEmail.dedupe_key,
    OutboxEmail.recipient,
    OutboxEmail.subject,
    OutboxEmail.body,
    OutboxEmail.attempts,
    OutboxEmail.order_id,
    OutboxEmail.html,
    OutboxEmail.lang,
    OutboxEmail.link_role,
    OutboxEmail.approval_id,
)


def _claim_next(
    db: Database, settings: Settings, now: datetime, exclude: list[int], backlog: Backlog
) -> tuple[_Claimed | None, Result | None]:
    """Take the oldest due message not yet handled in this run: (message, None) when this
    sender owns it now, (message, SKIPPED) when another claimed it first, (message,
    CANCELLED) when it turned out obsolete.

    `SKIP LOCKED` lets two PostgreSQL senders pass each other instead of queueing on one
    row (SQLite ignores it: `BEGIN IMMEDIATE` already serialises the writers); the
    conditional UPDATE is what guarantees a single owner on every database. A message with
    a link gets it minted next, in its own transaction (`_mint`), so a link exists only
    for a message a sender owns.

    Should the database fail once the claim may have been written (its commit, or the
    minting), the claim is given back by the next run (`_give_back`, only if it is still
    this claim), since nothing was handed to the server.
    """
    claimed: _Claimed | None = None
    try:
        with db.write() as session:
            row = session.execute(
                select(*_COLUMNS)
                .where(*_due(now), OutboxEmail.id.not_in(exclude))
                .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return None, None
            unclaimed = _Claimed(*row)
            claim = session.execute(
                update(OutboxEmail)
                .where(OutboxEmail.id == row.id, OutboxEmail.status == OutboxStatus.PENDING.value)
                .values(status=OutboxStatus.SENDING.value, claimed_at=now)
                .execution_options(synchronize_session=False)
            )
            if claim.rowcount != 1:
                return unclaimed, Result.SKIPPED
            claimed = replace(unclaimed, claimed_at=now)
        if claimed.link_role is None:
            return claimed, None
        with db.write() as session:
            minted = _mint(session, settings, claimed, now)
            if isinstance(minted, str):
                session.execute(
                    update(OutboxEmail)
                    .where(OutboxEmail.id == claimed.id)
                    .values(status=OutboxStatus.CANCELLED.value, cancelled_reason=minted[:255])
                    .execution_options(synchronize_session=False)
                )
                return claimed, Result.CANCELLED
            claimed = minted
        return claimed, None
    except SQLAlchemyError:
        if claimed is not None:
            held = claimed
            backlog.steps.append(_Unwritten(held.id, False, lambda: _give_back(db, held)))
        raise


def _give_back(db: Database, claimed: _Claimed) -> None:
    """Undo a claim whose message never reached the server (the database failed right
    after it): due again, attempts untouched, its link (if one was minted) revoked. Only
    while it is still this claim: another sender may own it since."""
    with db.write() as session:
        given = session.execute(
            update(OutboxEmail)
            .where(
                OutboxEmail.id == claimed.id,
                OutboxEmail.status == OutboxStatus.SENDING.value,
                OutboxEmail.claimed_at == claimed.claimed_at,
            )
            .values(status=OutboxStatus.PENDING.value)
            .execution_options(synchronize_session=False)
        )
        if given.rowcount:
            _not_delivered(session, claimed, claimed.claimed_at or utcnow())


def _mint(session: Session, settings: Settings, claimed: _Claimed, now: datetime) -> _Claimed | str:
    """The claimed message with its link minted (valid until the order's deadline), or
    why it must not be sent after all: a last check that the link's person still holds
    that role on an open order, whatever path changed it (an import can change an
    order's provisioning e-mail).

    The order's row lock comes first, as in every workflow action (which locks the order,
    then cancels its e-mails, then revokes its links): a change that made the message
    obsolete since the claim has committed by then and left its reason on the row, and
    one that comes later finds the new link and revokes it. Taking the locks in the other
    order (the outbox row held while waiting for the order) deadlocks on PostgreSQL.
    """
    # Imported here: the deadline policy lives with the workflow, which imports the outbox.
    from provisioning.orders.deadlines import DeadlinePolicy

    role = LinkRole(claimed.link_role)
    order = session.get(Order, claimed.order_id, with_for_update=True) if claimed.order_id else None
    if order is None:
        return "not sent: its order no longer exists"
    obsolete = session.scalar(
        select(OutboxEmail.cancelled_reason).where(OutboxEmail.id == claimed.id)
    )
    if obsolete is not None:  # cancelled while it was being claimed: it was stopped after all
        return obsolete.removesuffix(IN_FLIGHT_NOTE)
    if OrderState(order.state) in (OrderState.COMPLETE, OrderState.EXPIRED, OrderState.HISTORY):
        return f"not sent: the order is {order.state.replace('_', ' ')}"
    holder = {
        LinkRole.CONTACT: order.provisioning_email,
        LinkRole.DELEGATE: order.delegate_email,
    }.get(role, claimed.recipient)
    if holder != claimed.recipient:
        return f"not sent: the order's {role.value} is no longer {claimed.recipient}"
    if role is LinkRole.APPROVER:
        approval = session.get(OrgApproval, claimed.approval_id) if claimed.approval_id else None
        if approval is None or approval.status != ApprovalStatus.PENDING.value:
            return "not sent: the approval request was answered or withdrawn"
    expires = DeadlinePolicy.from_settings(settings).deadline(order.placed_at)
    if expires <= now:
        return "not sent: the order's deadline has passed"
    token = links.mint(
        session,
        order_id=order.order_id,
        role=role,
        email=claimed.recipient,
        expires_at=expires,
        approval_id=claimed.approval_id if role is LinkRole.APPROVER else None,
        outbox_id=claimed.id,
        now=now,
    )
    actions = ("approve", "decline") if role is LinkRole.APPROVER else ("open",)
    urls = {a: links.url(settings.public_url, token, **LINK_ACTIONS[a]) for a in actions}
    return replace(claimed, token=token, urls=urls)


def _not_delivered(session: Session, claimed: _Claimed, now: datetime) -> None:
    """The link minted for a send the server did not take is revoked at once: nobody
    received it, and the next attempt mints its own."""
    if claimed.token is None:
        return
    session.execute(
        update(OrderLink)
        .where(
            OrderLink.token_hash == links.token_hash(claimed.token),
            OrderLink.revoked_at.is_(None),
        )
        .values(revoked_at=now, revoked_reason="not delivered")
        .execution_options(synchronize_session=False)
    )


def _record_sent(db: Database, claimed: _Claimed, now: datetime) -> Outcome:
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


def _record_failure(
    db: Database,
    settings: Settings,
    claimed: _Claimed,
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
        _not_delivered(session, claimed, now)
    return outcome


def _release(
    db: Database, settings: Settings, claimed: _Claimed, now: datetime, error: str
) -> None:
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
        _not_delivered(session, claimed, now)


def _obsoleted_in_flight(session: Session, claimed: _Claimed) -> bool:
    """Was the message made obsolete while it was being sent (`cancel_obsolete`)? Then an
    attempt that did not get through is its last.

    Locks the outbox row before the link's (`_not_delivered`), in the order a workflow
    action's `cancel_obsolete` and `links.revoke` take them, so the two cannot deadlock.
    """
    reason = session.scalar(
        select(OutboxEmail.cancelled_reason).where(OutboxEmail.id == claimed.id).with_for_update()
    )
    return reason is not None


def _unreachable(
    db: Database, settings: Settings, now: datetime, report: SendReport, error: str
) -> SendReport:
    """Move every due message back by the first retry delay, attempts untouched."""
    with db.write() as session:
        moved = session.execute(
            update(OutboxEmail)
            .where(*_due(now))
            .values(next_attempt_at=now + retry_delay(settings, 1), last_error=error[:_ERROR_CHARS])
            .execution_options(synchronize_session=False)
        )
    report.postponed += moved.rowcount
    report.unreachable = error
    report.remaining = 0
    return report


# --- Looking and putting back ---------------------------------------------------------


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
