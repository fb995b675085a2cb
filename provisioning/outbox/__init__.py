"""The transactional outbox: e-mails are queued in the same transaction as the change that
causes them, and sent later by `onboard outbox send`.

- `queueing`: queueing an e-mail (`enqueue`, idempotent by `dedupe_key`; `placeholder`
  for its link) and cancelling the unsent ones a change made obsolete (`cancel_obsolete`);
- `sender`: the sender, once (`send_due`) or as its own process (`send_every`);
- `claiming`: taking a due message (pending → sending) and minting its link;
- `recording`: writing down what the SMTP server said, and the delay before a retry;
- `unwritten`: what a run did at the server and the failing database did not take
  (`Backlog`);
- `report`: what a run reports (`SendReport`), with the messages left in `sending`;
- `operator`: listing the messages and putting failed or stuck ones back, audited;
- `smtp`: building a message and handing it to the SMTP server (`SmtpMailer`).

Sending is at most once per claim: a message is claimed (pending → sending) right before
its SMTP transaction and marked sent right after the server's 250 to DATA, each in its own
short transaction, and it is never claimed again by a program, only by a person who
re-queues it on purpose (`retry(..., may_duplicate=True)`). A sender killed between the
two leaves it in `sending`, where nobody can know whether it arrived: every run reports
such messages (`SendReport.sending`), and `outbox list` flags them. Its Message-ID comes
from the dedupe key, so a receiver can drop the copy such a re-queue might produce.

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

The public names are re-exported here (`outbox.enqueue`, `outbox.send_due`, …) and
imported on first use, so the workflow, which only queues and cancels, does not load the
SMTP client. No submodule is named like one of them: importing a submodule sets the
package attribute of its name, which would hide the re-exported name.
"""

from __future__ import annotations

from provisioning import lazy

_EXPORTS = {
    "LINK_ACTIONS": "queueing",
    "IN_FLIGHT_NOTE": "queueing",
    "Cancelled": "queueing",
    "cancel_obsolete": "queueing",
    "enqueue": "queueing",
    "placeholder": "queueing",
    "StopSignal": "sender",
    "fill_links": "sender",
    "send_due": "sender",
    "send_every": "sender",
    "MAX_RETRY_DELAY": "recording",
    "retry_delay": "recording",
    "Backlog": "unwritten",
    "Outcome": "report",
    "Result": "report",
    "SendReport": "report",
    "Sending": "report",
    "sending": "report",
    "stuck_after": "report",
    "list_messages": "operator",
    "requeue": "operator",
    "retry": "operator",
    "retry_failed": "operator",
    "stuck": "operator",
    "DeliveryFailed": "smtp",
    "MailServerUnreachable": "smtp",
    "SmtpMailer": "smtp",
    "build_message": "smtp",
    "check_settings": "smtp",
    "message_id": "smtp",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy.exports(__name__, _EXPORTS)
