"""`onboard outbox send|list|retry`: the queued e-mails and the SMTP sender."""

from __future__ import annotations

import math
import signal
import time

import click

from provisioning import outbox
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
from provisioning.mailer import MailServerUnreachable
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

    With --every the sender is a long-running process (instead of cron): it reports only
    the runs that found something due, an unreachable server is a warning on stderr and
    is tried again at the next run, and SIGTERM or Ctrl-C ends it with exit 0 once the
    current run is done.

    An e-mail that turned obsolete before it was sent (its order moved on, its person
    changed) is cancelled instead, with the reason (`outbox list --status cancelled`).

    JSON keys (one object per run; jsonl: one line each): sent, retried, failed, skipped,
    cancelled, postponed, remaining (still due: the --limit was reached), unreachable (null or why),
    outcomes (id, recipient, result, attempts, error, next_attempt_at).
    """
    if every is None:
        report = outbox.send_due(ctx.db, ctx.settings, limit=limit)
        _show(report, fmt)
        if report.unreachable:
            raise MailServerUnreachable(_unreachable_text(ctx, report))
        return
    stop = _StopOnSignal()
    previous = {sig: signal.signal(sig, stop.set) for sig in _STOP_SIGNALS}
    try:
        for report in outbox.send_every(ctx.db, ctx.settings, every, stop, limit=limit):
            if report.outcomes or report.unreachable:
                _show(report, fmt)
            if report.unreachable:
                click.echo(f"warning: {_unreachable_text(ctx, report)}", err=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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


def _show(report: outbox.SendReport, fmt: str) -> None:
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


def _unreachable_text(ctx: CliContext, report: outbox.SendReport) -> str:
    return (
        f"{report.unreachable}; {report.postponed} due e-mail(s) stay pending "
        f"and are tried again in {outbox.retry_delay(ctx.settings, 1).total_seconds():.0f} s"
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

    `stuck` marks an e-mail left in `sending` by a sender that stopped mid-send; it is
    never re-sent by itself (`onboard outbox retry ID` does, on purpose). A `cancelled`
    e-mail was made obsolete before it was sent (a new contact, an answered approval, a
    complete order, …) and says why in `cancelled_reason`; an e-mail a sender had already
    taken when that happened could not be stopped and says so there too.

    JSON keys: id, status, stuck, kind, order_id, recipient, subject, attempts,
    next_attempt_at, last_error, created_at, claimed_at, sent_at, dedupe_key,
    cancelled_reason, lang, link_role.
    """
    rows = outbox.list_messages(
        ctx.db,
        status=OutboxStatus(status) if status else None,
        order_id=order_id,
        older_than=outbox.stuck_after(ctx.settings),
    )
    if fmt == "table":
        rows = (
            {
                **row,
                "status": "sending (stuck)" if row["stuck"] else row["status"],
                "last_error": _cut(row["last_error"]),
                "cancelled_reason": _cut(row["cancelled_reason"]),
            }
            for row in rows
        )
    emit_rows(rows, fmt, _LIST_COLUMNS)


@outbox_group.command("retry")
@click.argument("ids", nargs=-1, type=int, metavar="[ID]...")
@actor_option
@pass_ctx
@handle_errors
def outbox_retry(ctx: CliContext, ids: tuple[int, ...], actor: str | None) -> None:
    """Put e-mails back in the queue, due now: every failed one, or only the IDs named.

    A named ID may also be a stuck e-mail (left in `sending` longer than ten SMTP
    timeouts, at least 15 minutes): its sender stopped mid-send, so it may already have
    arrived; it is re-sent with the same Message-ID. Failed e-mails get their full number
    of attempts again. Each change is recorded in the audit trail; an ID that is neither
    failed nor stuck refuses the whole request (exit 2).
    """
    changed = outbox.retry(
        ctx.db,
        list(ids),
        resolve_actor(ctx, actor),
        older_than=outbox.stuck_after(ctx.settings),
    )
    if not changed:
        click.echo("no failed e-mails to retry")
        return
    click.echo(f"{len(changed)} e-mail(s) back in the queue: {', '.join(str(i) for i in changed)}")


def _cut(text: str | None) -> str | None:
    if text is None or len(text) <= _TABLE_TEXT:
        return text
    return text[: _TABLE_TEXT - 1] + "…"
