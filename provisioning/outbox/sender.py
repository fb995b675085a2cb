"""The sender: `send_due` runs once over one SMTP session (`onboard outbox send`),
`send_every` keeps running as its own process (`--every`). Each message is claimed,
handed to the server with its links filled in, and what the server said written down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from html import escape as html_escape
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from provisioning.db import Database
from provisioning.models import OutboxEmail
from provisioning.models.base import utcnow
from provisioning.outbox.claiming import Claimed, claim_next, due
from provisioning.outbox.queueing import LINK_ACTIONS, placeholder
from provisioning.outbox.recording import record_failure, record_sent, record_unreachable, release
from provisioning.outbox.report import Outcome, SendReport, sending, stuck_after
from provisioning.outbox.smtp import (
    DeliveryFailed,
    MailServerUnreachable,
    SmtpMailer,
    build_message,
    check_settings,
)
from provisioning.outbox.unwritten import Backlog
from provisioning.settings import Settings

log = logging.getLogger("onboard.outbox")


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
            return record_unreachable(db, settings, clock(), report, str(exc))
        handled: list[int] = []
        while len(handled) < limit:
            try:  # a session the server closed is reopened before the claim, not after
                mailer.open()
            except MailServerUnreachable as exc:
                return record_unreachable(db, settings, clock(), report, str(exc))
            claimed, result = claim_next(db, settings, clock(), handled, backlog)
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
                return record_unreachable(db, settings, clock(), report, outcome)
            if outcome is not None:
                report.outcomes.append(outcome)
    report.remaining = _due_count(db, clock())
    return report


def _send_one(
    db: Database,
    settings: Settings,
    mailer: SmtpMailer,
    claimed: Claimed,
    clock: Callable[[], datetime],
    backlog: Backlog,
) -> Outcome | str | None:
    """Hand one claimed message to the server and write down what it said, at once and
    in its own transaction; why not, when the server could not be reached (released)."""
    try:
        _deliver(mailer, settings, claimed, clock())
    except MailServerUnreachable as exc:
        when, error = clock(), str(exc)
        backlog.attempt(claimed.id, lambda: release(db, settings, claimed, when, error))
        return error
    except DeliveryFailed as exc:
        when, text, permanent = clock(), exc.text, exc.permanent
        return backlog.attempt(
            claimed.id, lambda: record_failure(db, settings, claimed, when, text, permanent)
        )
    when = clock()
    return backlog.attempt(claimed.id, lambda: record_sent(db, claimed, when), delivered=True)


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


def _deliver(mailer: SmtpMailer, settings: Settings, claimed: Claimed, now: datetime) -> None:
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


def _due_count(db: Database, now: datetime) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(OutboxEmail).where(*due(now))) or 0


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
