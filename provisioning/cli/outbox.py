"""`onboard outbox send|list|retry`: the queued e-mails and the SMTP sender."""

from __future__ import annotations

import math
import signal
import time
from datetime import datetime

import click
from sqlalchemy.exc import SQLAlchemyError

from provisioning import failures
from provisioning.cli.app import (
    CliContext,
    actor_option,
    cli,
    format_option,
    handle_errors,
    pass_ctx,
    resolve_actor,
)
from provisioning.cli.output import emit_object, emit_rows
from provisioning.models.base import utcnow
from provisioning.outbox.operator import list_messages, retry
from provisioning.outbox.recording import retry_delay
from provisioning.outbox.report import Sending, SendReport, stuck_after
from provisioning.outbox.sender import send_due, send_every
from provisioning.outbox.smtp import MailServerUnreachable
from provisioning.outbox.unwritten import Backlog
from provisioning.states import OutboxStatus

_OUTCOME_COLUMNS = ["id", "recipient", "result", "attempts", "next_attempt_at", "error"]
_LIST_COLUMNS = [
    "id",
    "status",
    "order_id",
    "recipient",
    "subject",
    "attempts",
    "next_attempt_at",
    "claimed_at",
    "last_error",
    "cancelled_reason",
]
_TABLE_TEXT = 60  # long SMTP answers are cut in tables; json shows them whole


@cli.group("outbox")
def outbox_group() -> None:
    """Queued e-mails: send the due ones over SMTP, list them, retry failed or stuck ones."""


@outbox_group.command("send")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="At most this many e-mails in this run.",
)
@click.option(
    "--every",
    type=click.FloatRange(min=0.1),
    metavar="SECONDS",
    default=None,
    help="Keep running: send what is due, wait SECONDS, again, until SIGTERM or Ctrl-C.",
)
@format_option("table", "json", "jsonl")
@pass_ctx
@handle_errors
def outbox_send(ctx: CliContext, limit: int, every: float | None, fmt: str) -> None:
    """Send the e-mails that are due over one SMTP session (ONBOARD_SMTP_* settings).

    Each e-mail is claimed before it is sent, so two senders running at once never send
    one twice. A 4xx answer or a lost connection is retried later, the delay doubling
    each time (ONBOARD_OUTBOX_RETRY_SECONDS), until ONBOARD_OUTBOX_MAX_ATTEMPTS; a 5xx
    answer to the recipient or the message fails it at once.

    Exit 0 when every due e-mail was handled (a scheduled retry counts as handled).
    Exit 1 when the SMTP server could not be reached (it is only contacted when something
    is due): the due e-mails stay pending, keep their attempts and wait one retry delay.
    Exit 1 too when the database failed: an e-mail already delivered is marked sent if the
    database is back within 15 s, and named otherwise (it stays in `sending`).

    With --every the sender is a long-running process (instead of cron): it reports only
    the runs that found something due, an unreachable server is a warning on stderr and
    is tried again at the next run, and SIGTERM or Ctrl-C ends it with exit 0 once the
    current run is done. A database failure (a PostgreSQL restart) is one warning line on
    stderr too: the run stops, the sender waits SECONDS and tries again, and the e-mails it
    had delivered are marked sent first thing once the database is back.

    Every run says how many e-mails are in `sending` without being sent by it, and since
    when (stderr, and `sending` in JSON): a sender that stopped mid-send (killed, crashed)
    leaves its e-mail there, and it may have been delivered; it is never sent again by
    itself (see `outbox list` and `outbox retry --may-duplicate`).

    An e-mail that turned obsolete before it was sent (its order moved on, its person
    changed) is cancelled instead, with the reason (`outbox list --status cancelled`).

    JSON keys (one object per run; jsonl: one line each): sent, retried, failed, skipped,
    cancelled, postponed, remaining (still due: the --limit was reached), unreachable (null or why),
    sending (count, stuck, since: the e-mails in `sending` not sent by this run), outcomes
    (id, recipient, result, attempts, error, next_attempt_at).
    """
    if every is None:
        backlog = Backlog()
        try:
            report = send_due(ctx.db, ctx.settings, limit=limit, backlog=backlog)
        except SQLAlchemyError:
            delivered = backlog.delivered
            if delivered:  # a restarting database is back within seconds: note them first
                backlog.write_within(_LAST_CHANCE_SECONDS)
                click.echo(f"warning: {_unrecorded_text(delivered, backlog.delivered)}", err=True)
            raise
        _show(report, fmt)
        _warn_sending(ctx, report.sending)
        if report.unreachable:
            raise MailServerUnreachable(_unreachable_text(ctx, report))
        return
    stop = _StopOnSignal()
    previous = {sig: signal.signal(sig, stop.set) for sig in _STOP_SIGNALS}
    database_failed = False
    reported = Sending()
    try:
        for report in send_every(ctx.db, ctx.settings, every, stop, limit=limit):
            if report.outcomes or report.unreachable:
                _show(report, fmt)
            if report.database is not None:
                if not database_failed:  # one line per outage, not one per run
                    click.echo(f"warning: {_database_text(report, every)}", err=True)
                database_failed = True
                continue
            database_failed = False
            if report.unreachable:
                click.echo(f"warning: {_unreachable_text(ctx, report)}", err=True)
            if (report.sending.count, report.sending.stuck) != (reported.count, reported.stuck):
                _warn_sending(ctx, report.sending)  # only when it changed
                reported = report.sending
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _database_text(report: SendReport, every: float) -> str:
    line, _code = failures.explain(report.database or SQLAlchemyError())
    text = f"{line} (this sender keeps running and tries again itself every {every:g} s"
    if report.unrecorded:
        text += f"; {_unrecorded_text(report.unrecorded)}"
    return text + ")"


def _unrecorded_text(ids: list[int], still: list[int] | None = None) -> str:
    """`still` None: a running sender, which marks them later; else the ones that could
    not be marked sent before the command ended."""
    listed = ", ".join(str(i) for i in ids)
    if still is None:
        return f"e-mail(s) {listed} were delivered and are marked sent once it is back"
    if not still:
        return f"e-mail(s) {listed} were delivered and marked sent when the database came back"
    return (
        f"e-mail(s) {', '.join(str(i) for i in still)} were delivered but could not be marked "
        "sent: they stay in `sending`; do not re-send them"
    )


def _warn_sending(ctx: CliContext, found: Sending) -> None:
    """Where an operator looks: the e-mails a stopped sender may have delivered."""
    if not found.count:
        return
    since = f"since {found.since:%Y-%m-%d %H:%M:%S} UTC ({_ago(found.since)} ago)"
    if found.stuck:
        text = (
            f"{found.stuck} e-mail(s) stuck in `sending` {since}: their sender stopped "
            "mid-send and each may have been delivered, so none is sent again by itself"
        )
        if found.count > found.stuck:
            text += f" ({found.count - found.stuck} more taken in the last minutes)"
    else:
        minutes = stuck_after(ctx.settings).total_seconds() / 60
        text = (
            f"{found.count} e-mail(s) in `sending` {since}, not by this run: another sender "
            "is sending them, or one stopped mid-send and each may have been delivered "
            f"(they count as stuck after {minutes:.0f} min)"
        )
    click.echo(
        f"warning: {text}; see `onboard outbox list --status sending`, re-send one only on "
        "purpose: `onboard outbox retry ID --may-duplicate`",
        err=True,
    )


def _ago(moment: datetime | None) -> str:
    seconds = max(0, int((utcnow() - moment).total_seconds())) if moment else 0
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} days"


# How long a single run that met a database failure keeps trying to mark what it delivered.
_LAST_CHANCE_SECONDS = 15.0

# The signals that end `outbox send --every` after its current run (a service manager's
# stop, and Ctrl-C), so no e-mail is left claimed half-way.
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _StopOnSignal:
    """The stop of `send --every`, set from a signal handler: a plain flag and short
    sleeps, because a handler must not take the lock a `threading.Event` uses (the main
    thread may be holding it when the signal arrives)."""

    def __init__(self) -> None:
        self.stopped = False

    def set(self, *_: object) -> None:
        self.stopped = True

    def wait(self, timeout: float | None = None) -> bool:
        end = math.inf if timeout is None else time.monotonic() + timeout
        while not self.stopped and (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 0.2))
        return self.stopped


def _show(report: SendReport, fmt: str) -> None:
    if fmt in ("json", "jsonl"):
        emit_object(report.to_dict(), fmt)
        return
    if report.outcomes:
        rows = [{**o.to_dict(), "error": _cut(o.error)} for o in report.outcomes]
        emit_rows(rows, fmt, _OUTCOME_COLUMNS)
    summary = (
        f"sent {report.sent}, retried {report.retried}, failed {report.failed}, "
        f"skipped {report.skipped}, postponed {report.postponed}"
    )
    if report.cancelled:
        summary += f", cancelled {report.cancelled} (obsolete: outbox list --status cancelled)"
    if report.remaining:
        summary += f"; {report.remaining} more due (run again or raise --limit)"
    click.echo(summary)


def _unreachable_text(ctx: CliContext, report: SendReport) -> str:
    return (
        f"{report.unreachable}; {report.postponed} due e-mail(s) stay pending "
        f"and are tried again in {retry_delay(ctx.settings, 1).total_seconds():.0f} s"
    )


@outbox_group.command("list")
@click.option(
    "--status",
    type=click.Choice([s.value for s in OutboxStatus]),
    default=None,
    help="Only e-mails in this state (default: all).",
)
@click.option("--order", "order_id", metavar="ID", default=None, help="Only this order's e-mails.")
@format_option("table", "json", "jsonl")
@pass_ctx
@handle_errors
def outbox_list(ctx: CliContext, status: str | None, order_id: str | None, fmt: str) -> None:
    """List queued and sent e-mails, oldest first, with their attempts and last SMTP error.

    An e-mail in `sending` MAY HAVE BEEN DELIVERED: a sender took it (`claimed_at`) and
    has not written down what the SMTP server said, because it is sending it right now or
    because it stopped mid-send. `stuck` marks one taken longer ago than ten SMTP timeouts
    (at least 15 minutes): its sender stopped. It is never re-sent by itself (`onboard
    outbox retry ID --may-duplicate` does, on purpose). A `cancelled`
    e-mail was made obsolete before it was sent (a new contact, an answered approval, a
    complete order, …) and says why in `cancelled_reason`; an e-mail a sender had already
    taken when that happened could not be stopped and says so there too.

    JSON keys: id, status, stuck, may_have_been_delivered, kind, order_id, recipient,
    subject, attempts,
    next_attempt_at, last_error, created_at, claimed_at, sent_at, dedupe_key,
    cancelled_reason, lang, link_role.
    """
    rows = list_messages(
        ctx.db,
        status=OutboxStatus(status) if status else None,
        order_id=order_id,
        older_than=stuck_after(ctx.settings),
    )
    if fmt == "table":
        rows = (
            {
                **row,
                "status": _status_text(row),
                "last_error": _cut(row["last_error"]),
                "cancelled_reason": _cut(row["cancelled_reason"]),
            }
            for row in rows
        )
    emit_rows(rows, fmt, _LIST_COLUMNS)


def _status_text(row: dict[str, object]) -> object:
    if row["stuck"]:
        return "sending (stuck: may have been delivered)"
    if row["may_have_been_delivered"]:
        return "sending (may have been delivered)"
    return row["status"]


@outbox_group.command("retry")
@click.argument("ids", nargs=-1, type=int, metavar="[ID]...")
@click.option(
    "--may-duplicate",
    is_flag=True,
    help="Re-send the stuck e-mails named although each may already have arrived.",
)
@actor_option
@pass_ctx
@handle_errors
def outbox_retry(
    ctx: CliContext, ids: tuple[int, ...], may_duplicate: bool, actor: str | None
) -> None:
    """Put e-mails back in the queue, due now: every failed one, or only the IDs named.

    Failed e-mails get their full number of attempts again. A named ID may also be a
    stuck e-mail (left in `sending` longer than ten SMTP timeouts, at least 15 minutes):
    its sender stopped after taking it, possibly after the SMTP server had accepted it, so
    it MAY ALREADY HAVE ARRIVED. It is only re-sent with --may-duplicate, once you have
    checked (the recipient, the SMTP server's log) or accept that it may arrive twice; it
    keeps its Message-ID, which lets a receiver that checks drop the copy. Each change is
    recorded in the audit trail (`may_duplicate` for a stuck one); an ID that is neither
    failed nor stuck, or stuck without --may-duplicate, refuses the whole request (exit 2).
    """
    changed = retry(
        ctx.db,
        list(ids),
        resolve_actor(ctx, actor),
        older_than=stuck_after(ctx.settings),
        may_duplicate=may_duplicate,
    )
    if not changed:
        click.echo("no failed e-mails to retry")
        return
    click.echo(f"{len(changed)} e-mail(s) back in the queue: {', '.join(str(i) for i in changed)}")


def _cut(text: str | None) -> str | None:
    if text is None or len(text) <= _TABLE_TEXT:
        return text
    return text[: _TABLE_TEXT - 1] + "…"
