"""The outbox sender against a real SMTP server (aiosmtpd on 127.0.0.1): delivery exactly
once, retries with a growing delay, permanent refusals, an unreachable server, two senders
at once, and failed or stuck e-mails put back on purpose."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner, Result
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from provisioning import outbox
from provisioning.cli import cli
from provisioning.db import Database
from provisioning.errors import InvalidInput
from provisioning.models import AuditEvent, OutboxEmail, utcnow
from provisioning.outbox import sender as outbox_sender
from provisioning.settings import Settings
from provisioning.states import OutboxStatus
from tests.people import OPERATOR, add_accounts

pytestmark = pytest.mark.db

NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)  # in the past, so the CLI's real clock finds it due
ACTOR = OPERATOR
_AUDIT_FLOOR: dict[str, int] = {}  # per database: the last audit event before the test
MAIL_FROM = "Onboarding Desk <onboarding@desk.example>"
HOUR = timedelta(hours=1)
SMTP_LOGIN, SMTP_PASSWORD = "desk", "s3cret"


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage
    login: str | None


@dataclass
class RecordingHandler:
    """An SMTP server's handler that keeps what it accepted and answers as it is told:
    `rcpt_answers` / `data_answers` map a recipient to the replies it gets, one per try,
    before it is accepted."""

    received: list[Received] = field(default_factory=list)
    rcpt_answers: dict[str, list[str]] = field(default_factory=dict)
    data_answers: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.received.clear()
            self.rcpt_answers.clear()
            self.data_answers.clear()

    def _answer(self, answers: dict[str, list[str]], address: str) -> str | None:
        with self.lock:
            queue = answers.get(address)
            return queue.pop(0) if queue else None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if answer := self._answer(self.rcpt_answers, address):
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if answer := self._answer(self.data_answers, envelope.rcpt_tos[0]):
            return answer
        message = message_from_bytes(envelope.content, policy=policy.default)
        login = session.auth_data if session.authenticated else None
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), message, login)
            )
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [r.message for r in self.received if address in r.recipients]


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, data: LoginPassword
) -> AuthResult:
    ok = (data.login, data.password) == (SMTP_LOGIN.encode(), SMTP_PASSWORD.encode())
    return AuthResult(success=ok, handled=False, auth_data=data.login.decode() if ok else None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[tuple[RecordingHandler, int]]:
    handler = RecordingHandler()
    port = _free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        server_hostname="localhost",
        authenticator=_authenticate,
        auth_require_tls=False,  # offers AUTH without TLS; logging in stays optional
    )
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def smtp(smtp_server: tuple[RecordingHandler, int]) -> RecordingHandler:
    handler, _port = smtp_server
    handler.reset()
    return handler


@pytest.fixture
def db(module_db: Database) -> Database:
    """The module's database with an empty outbox; the audit trail is append-only, so
    `audit` only reads the events written from here on."""
    with module_db.write() as session:
        session.execute(delete(OutboxEmail))
        _AUDIT_FLOOR[module_db.url] = session.scalar(select(func.max(AuditEvent.id))) or 0
    return module_db


@pytest.fixture
def settings(db: Database, smtp_server: tuple[RecordingHandler, int]) -> Settings:
    return Settings(
        database_url=db.url,
        smtp_host="127.0.0.1",
        smtp_port=smtp_server[1],
        mail_from=MAIL_FROM,
        smtp_timeout=5,
        outbox_max_attempts=3,
        outbox_retry_seconds=60,
    )


def queue(
    db: Database,
    key: str,
    recipient: str,
    *,
    subject: str = "Your Webex order",
    body: str = "Hello,\nyour order is ready to be set up.\n",
    order_id: str | None = None,
    now: datetime = NOW,
) -> bool:
    with db.write() as session:
        return outbox.enqueue(
            session,
            dedupe_key=key,
            kind="welcome",
            recipient=recipient,
            subject=subject,
            body=body,
            order_id=order_id,
            now=now,
        )


def stored(db: Database, key: str) -> OutboxEmail:
    with db.read() as session:
        return session.scalars(select(OutboxEmail).where(OutboxEmail.dedupe_key == key)).one()


def audit(db: Database, action: str) -> list[AuditEvent]:
    with db.read() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == action, AuditEvent.id > _AUDIT_FLOOR[db.url]
                )
            )
        )


def onboard(db: Database, port: int, *args: str) -> Result:
    env = {
        "ONBOARD_SMTP_HOST": "127.0.0.1",
        "ONBOARD_SMTP_PORT": str(port or 25),  # 0: a command that sends nothing
        "ONBOARD_MAIL_FROM": MAIL_FROM,
        "ONBOARD_SMTP_TIMEOUT": "5",
    }
    return CliRunner().invoke(cli, ["--db", db.url, *args], env=env)


def test_due_e_mails_arrive_once_with_their_headers(
    db: Database, smtp: RecordingHandler, settings: Settings
) -> None:
    assert queue(db, "welcome:ORD-1", "alice@customer.example", order_id="ORD-1")
    assert queue(db, "approval:ORD-2", "bob@partner.example", subject="Approve ORD-2")
    assert not queue(db, "welcome:ORD-1", "alice@customer.example", order_id="ORD-1")
    queue(db, "reminder:ORD-3", "carol@customer.example", now=NOW + timedelta(hours=1))

    report = outbox.send_due(db, settings, now=NOW)

    assert (report.sent, report.retried, report.failed, report.skipped) == (2, 0, 0, 0)
    [welcome] = smtp.to("alice@customer.example")
    assert welcome["From"] == MAIL_FROM
    assert welcome["To"] == "alice@customer.example"
    assert welcome["Subject"] == "Your Webex order"
    assert (
        welcome.get_content().replace("\r\n", "\n") == "Hello,\nyour order is ready to be set up.\n"
    )
    assert parsedate_to_datetime(welcome["Date"]) == NOW
    [approval] = smtp.to("bob@partner.example")
    assert approval["Subject"] == "Approve ORD-2"
    ids = {welcome["Message-ID"], approval["Message-ID"]}
    assert len(ids) == 2 and all(i.endswith("@desk.example>") for i in ids)
    assert {r.sender for r in smtp.received} == {"onboarding@desk.example"}
    assert smtp.to("carol@customer.example") == []  # not due yet
    sent = stored(db, "welcome:ORD-1")
    assert (sent.status, sent.sent_at, sent.attempts) == (OutboxStatus.SENT, NOW, 1)

    again = outbox.send_due(db, settings, now=NOW + timedelta(minutes=5))
    assert again.outcomes == [] and len(smtp.received) == 2

    later = outbox.send_due(db, settings, now=NOW + timedelta(hours=1))
    assert later.sent == 1 and len(smtp.to("carol@customer.example")) == 1
    assert len(smtp.received) == 3


def test_a_temporary_refusal_is_retried_later_and_later_until_taken(
    db: Database, smtp: RecordingHandler, settings: Settings
) -> None:
    smtp.rcpt_answers["grey@customer.example"] = ["451 4.7.1 greylisted, come back later"] * 2
    queue(db, "welcome:ORD-1", "grey@customer.example")

    first = outbox.send_due(db, settings, now=NOW)

    assert first.retried == 1 and first.sent == 0
    email = stored(db, "welcome:ORD-1")
    assert (email.status, email.attempts) == (OutboxStatus.PENDING, 1)
    assert email.next_attempt_at == NOW + timedelta(seconds=60)
    assert email.last_error is not None and "451 4.7.1 greylisted" in email.last_error

    assert outbox.send_due(db, settings, now=NOW + timedelta(seconds=59)).outcomes == []

    second_try = NOW + timedelta(seconds=60)
    assert outbox.send_due(db, settings, now=second_try).retried == 1
    email = stored(db, "welcome:ORD-1")
    assert email.attempts == 2
    assert email.next_attempt_at == second_try + timedelta(seconds=120)  # doubled

    third_try = second_try + timedelta(seconds=120)
    assert outbox.send_due(db, settings, now=third_try).sent == 1
    assert len(smtp.to("grey@customer.example")) == 1
    email = stored(db, "welcome:ORD-1")
    assert (email.status, email.sent_at, email.attempts) == (OutboxStatus.SENT, third_try, 3)
    assert email.last_error is None  # delivered: the greylisting no longer applies


def test_temporary_refusals_give_up_after_the_last_attempt(
    db: Database, smtp: RecordingHandler, settings: Settings
) -> None:
    smtp.rcpt_answers["full@customer.example"] = ["452 4.2.2 mailbox full"] * 10
    queue(db, "welcome:ORD-1", "full@customer.example")

    results = []
    at = NOW
    for _ in range(settings.outbox_max_attempts):
        report = outbox.send_due(db, settings, now=at)
        results.append((report.retried, report.failed))
        at = stored(db, "welcome:ORD-1").next_attempt_at

    assert results == [(1, 0), (1, 0), (0, 1)]
    email = stored(db, "welcome:ORD-1")
    assert (email.status, email.attempts) == (OutboxStatus.FAILED, 3)
    assert "452 4.2.2 mailbox full" in (email.last_error or "")
    assert outbox.send_due(db, settings, now=at + timedelta(days=30)).outcomes == []
    assert smtp.received == []


def test_a_permanent_refusal_fails_at_once_and_is_listed_with_its_error(
    db: Database, smtp: RecordingHandler, settings: Settings
) -> None:
    smtp.rcpt_answers["gone@customer.example"] = ["550 5.1.1 no such user here"]
    smtp.data_answers["picky@customer.example"] = ["554 5.7.1 message refused as spam"]
    queue(db, "welcome:ORD-1", "gone@customer.example", order_id="ORD-1")
    queue(db, "welcome:ORD-2", "picky@customer.example", order_id="ORD-2")
    queue(db, "welcome:ORD-3", "fine@customer.example", order_id="ORD-3")
    queue(db, "welcome:ORD-4", "dave@customer.example", subject="Hi\nBcc: x@evil.example")

    report = outbox.send_due(db, settings, now=NOW)

    assert (report.sent, report.retried, report.failed) == (1, 0, 3)
    assert len(smtp.to("fine@customer.example")) == 1  # the session survived the refusals
    assert smtp.to("dave@customer.example") == [] and len(smtp.received) == 1
    assert "cannot write the message" in (stored(db, "welcome:ORD-4").last_error or "")
    result = onboard(db, 0, "outbox", "list", "--status", "failed", "--format", "json")
    assert result.exit_code == 0, result.output
    failed = {row["order_id"]: row for row in json.loads(result.stdout)}
    assert set(failed) == {"ORD-1", "ORD-2", None}
    assert "550 5.1.1 no such user here" in failed["ORD-1"]["last_error"]
    assert "554 5.7.1 message refused as spam" in failed["ORD-2"]["last_error"]
    assert failed["ORD-1"]["attempts"] == 1 and failed["ORD-1"]["status"] == "failed"

    table = onboard(db, 0, "outbox", "list", "--order", "ORD-3")
    assert table.exit_code == 0 and "fine@customer.example" in table.stdout
    assert "ORD-1" not in table.stdout


def test_an_unreachable_server_keeps_the_e_mails_pending_without_using_attempts(
    db: Database, smtp: RecordingHandler, settings: Settings
) -> None:
    queue(db, "welcome:ORD-1", "alice@customer.example")
    queue(db, "welcome:ORD-2", "bob@customer.example")
    dead_port = _free_port()
    down = replace(settings, smtp_port=dead_port)

    report = outbox.send_due(db, down, now=NOW)

    assert report.unreachable is not None and f"127.0.0.1:{dead_port}" in report.unreachable
    assert report.postponed == 2 and report.outcomes == []
    email = stored(db, "welcome:ORD-1")
    assert (email.status, email.attempts) == (OutboxStatus.PENDING, 0)
    assert email.next_attempt_at == NOW + timedelta(seconds=60)
    assert f"127.0.0.1:{dead_port}" in (email.last_error or "")

    result = onboard(db, dead_port, "outbox", "send")
    assert result.exit_code == 1
    assert f"cannot open an SMTP session with 127.0.0.1:{dead_port}" in result.stderr
    assert "2 due e-mail(s) stay pending and are tried again in 60 s" in result.stderr
    assert stored(db, "welcome:ORD-2").attempts == 0

    # The server is up again; the command moved them a retry delay on.
    back = outbox.send_due(db, settings, now=utcnow() + timedelta(seconds=61))
    assert back.sent == 2 and len(smtp.received) == 2


def test_a_session_the_server_closes_is_reopened_for_the_rest_of_the_batch(
    db: Database, smtp: RecordingHandler, settings: Settings
) -> None:
    smtp.rcpt_answers["first@customer.example"] = ["421 4.7.0 too many messages, closing"]
    queue(db, "welcome:ORD-1", "first@customer.example")
    queue(db, "welcome:ORD-2", "second@customer.example")

    report = outbox.send_due(db, settings, now=NOW)

    assert [(o.recipient, o.result) for o in report.outcomes] == [
        ("first@customer.example", outbox.Result.RETRY),
        ("second@customer.example", outbox.Result.SENT),
    ]
    assert "421 4.7.0 too many messages" in (stored(db, "welcome:ORD-1").last_error or "")
    assert outbox.send_due(db, settings, now=NOW + timedelta(minutes=1)).sent == 1
    assert len(smtp.to("first@customer.example")) == 1


def test_login_and_tls_problems_are_reported_before_any_attempt(
    db: Database, smtp: RecordingHandler, settings: Settings
) -> None:
    queue(db, "welcome:ORD-1", "alice@customer.example")

    wrong = replace(settings, smtp_username=SMTP_LOGIN, smtp_password="guess")
    refused = outbox.send_due(db, wrong, now=NOW)
    assert refused.unreachable is not None and "535" in refused.unreachable
    no_tls = outbox.send_due(db, replace(settings, smtp_tls="starttls"), now=NOW + HOUR)
    assert no_tls.unreachable is not None and "STARTTLS" in no_tls.unreachable
    with pytest.raises(InvalidInput, match="SMTP settings refused"):
        outbox.send_due(db, replace(settings, smtp_tls="tls"), now=NOW + 2 * HOUR)
    assert stored(db, "welcome:ORD-1").attempts == 0 and smtp.received == []

    right = replace(settings, smtp_username=SMTP_LOGIN, smtp_password=SMTP_PASSWORD)
    assert outbox.send_due(db, right, now=NOW + 2 * HOUR).sent == 1
    assert [r.login for r in smtp.received] == [SMTP_LOGIN]


class FailingDatabase:
    """The test's database, whose next `fail` write transactions fail the way a
    restarting PostgreSQL makes them fail: before they reach the database, or, with
    `after_commit`, once committed, when the answer to the COMMIT is lost."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.fail = 0
        self.after_commit = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    @contextmanager
    def write(self) -> Iterator[Session]:
        failing = self.fail > 0
        self.fail -= failing
        if failing and not self.after_commit:
            raise OperationalError("UPDATE …", None, Exception("server closed the connection"))
        with self._db.write() as session:
            yield session
        if failing:
            raise OperationalError("COMMIT", None, Exception("terminating connection"))


class Runs:
    """A stop signal for `send_every` that ends it after `runs` runs, without waiting."""

    def __init__(self, runs: int) -> None:
        self.left = runs

    def wait(self, timeout: float | None = None) -> bool:
        self.left -= 1
        return self.left <= 0


def test_a_database_failure_after_delivery_is_written_down_first_by_the_next_run(
    db: Database, smtp: RecordingHandler, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue(db, "welcome:ORD-1", "alice@customer.example")
    queue(db, "welcome:ORD-2", "bob@customer.example")
    failing = FailingDatabase(db)
    deliver = outbox_sender._deliver

    def deliver_then_lose_the_database(*args: Any) -> None:
        deliver(*args)  # the server said 250 to DATA …
        if len(smtp.received) == 1:
            failing.fail = 1  # … and the database goes away before it is marked sent

    monkeypatch.setattr(outbox_sender, "_deliver", deliver_then_lose_the_database)
    runs = outbox.send_every(failing, settings, 0.1, Runs(2))  # type: ignore[arg-type]

    first = next(runs)
    assert first.database is not None and first.outcomes == []
    alice = stored(db, "welcome:ORD-1")
    assert alice.status == OutboxStatus.SENDING  # delivered, not yet written down
    assert first.unrecorded == [alice.id]

    second = next(runs)
    assert second.database is None
    assert (second.outcomes[0].id, second.outcomes[0].result) == (alice.id, outbox.Result.SENT)
    assert second.sent == 2 and second.sending.count == 0
    assert list(runs) == []
    with db.read() as session:
        assert set(session.scalars(select(OutboxEmail.status))) == {OutboxStatus.SENT}
    message_ids = [r.message["Message-ID"] for r in smtp.received]
    assert len(message_ids) == 2 == len(set(message_ids))  # each delivered once


def test_a_single_run_marks_what_it_delivered_if_the_database_comes_back_soon(
    db: Database, smtp: RecordingHandler, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue(db, "welcome:ORD-1", "alice@customer.example")
    failing = FailingDatabase(db)
    deliver = outbox_sender._deliver

    def deliver_then_lose_the_database(*args: Any) -> None:
        deliver(*args)
        failing.fail = 3  # the write after the 250, and two more tries, fail

    monkeypatch.setattr(outbox_sender, "_deliver", deliver_then_lose_the_database)
    backlog = outbox.Backlog()
    with pytest.raises(OperationalError):
        outbox.send_due(failing, settings, now=NOW, backlog=backlog)  # type: ignore[arg-type]
    alice = stored(db, "welcome:ORD-1")
    assert backlog.delivered == [alice.id] and alice.status == OutboxStatus.SENDING

    [outcome] = backlog.write_within(5, pause=0.01)

    assert (outcome.id, outcome.result) == (alice.id, outbox.Result.SENT)
    assert backlog.delivered == [] and stored(db, "welcome:ORD-1").status == OutboxStatus.SENT
    assert len(smtp.to("alice@customer.example")) == 1


def test_a_claim_whose_commit_answer_was_lost_is_given_back_by_the_next_run(
    db: Database, smtp: RecordingHandler, settings: Settings
) -> None:
    queue(db, "welcome:ORD-1", "alice@customer.example")
    failing = FailingDatabase(db)
    failing.fail, failing.after_commit = 1, True  # the claim's COMMIT: done, answer lost
    backlog = outbox.Backlog()

    with pytest.raises(OperationalError):
        outbox.send_due(failing, settings, now=NOW, backlog=backlog)  # type: ignore[arg-type]

    assert stored(db, "welcome:ORD-1").status == OutboxStatus.SENDING
    assert smtp.received == [] and backlog.delivered == []  # claimed, never handed over
    again = outbox.send_due(db, settings, now=NOW, backlog=backlog)
    assert again.sent == 1 and again.sending.count == 0
    assert len(smtp.to("alice@customer.example")) == 1


def test_two_senders_at_once_deliver_each_e_mail_exactly_once(
    db: Database, smtp: RecordingHandler, settings: Settings
) -> None:
    keys = [f"welcome:ORD-{i}" for i in range(16)]
    for i, key in enumerate(keys):
        queue(db, key, f"user{i}@customer.example")
    start = threading.Barrier(2)

    def sender() -> outbox.SendReport:
        start.wait()
        return outbox.send_due(db, settings, now=NOW)

    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = [f.result() for f in [pool.submit(sender), pool.submit(sender)]]

    message_ids = [r.message["Message-ID"] for r in smtp.received]
    assert len(message_ids) == len(keys) == len(set(message_ids))
    assert sum(r.sent for r in reports) == len(keys)
    with db.read() as session:
        statuses = set(session.scalars(select(OutboxEmail.status)))
    assert statuses == {OutboxStatus.SENT}


def test_retry_puts_failed_e_mails_back_in_the_queue_and_audits_it(
    db: Database, smtp: RecordingHandler, settings: Settings
) -> None:
    smtp.rcpt_answers["typo@customer.example"] = ["550 5.1.1 no such user"]
    queue(db, "welcome:ORD-1", "typo@customer.example")
    queue(db, "welcome:ORD-2", "fine@customer.example")
    outbox.send_due(db, settings, now=NOW)
    failed, sent = stored(db, "welcome:ORD-1"), stored(db, "welcome:ORD-2")
    assert failed.status == OutboxStatus.FAILED

    add_accounts(db, ACTOR)
    refused = onboard(
        db, 0, "outbox", "retry", str(failed.id), str(sent.id), "999999999", "--actor", ACTOR.email
    )
    assert refused.exit_code == 2
    assert "already sent" in refused.stderr and "no such e-mail" in refused.stderr
    assert stored(db, "welcome:ORD-1").status == OutboxStatus.FAILED  # nothing changed

    result = onboard(db, 0, "outbox", "retry", str(failed.id), "--actor", ACTOR.email)

    assert result.exit_code == 0, result.output
    assert f"1 e-mail(s) back in the queue: {failed.id}" in result.stdout
    email = stored(db, "welcome:ORD-1")
    assert (email.status, email.attempts) == (OutboxStatus.PENDING, 0)
    [event] = audit(db, "outbox.retry")
    assert (event.actor, event.role, event.entity_id) == (ACTOR.email, "operator", str(failed.id))
    assert event.before is not None and event.before["status"] == "failed"
    assert "550 5.1.1" in event.before["last_error"]

    assert outbox.send_due(db, settings).sent == 1  # the mailbox exists now
    assert len(smtp.to("typo@customer.example")) == 1
    again = onboard(db, 0, "outbox", "retry", "--actor", ACTOR.email)
    assert again.stdout.strip() == "no failed e-mails to retry"


def test_a_stuck_e_mail_is_only_sent_again_when_a_person_requeues_it(
    db: Database, smtp: RecordingHandler, settings: Settings
) -> None:
    queue(db, "welcome:ORD-1", "alice@customer.example")
    outbox.send_due(db, settings, now=NOW)
    email_id = stored(db, "welcome:ORD-1").id
    with db.write() as session:  # the sender died after the server took it, before noting it
        session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id == email_id)
            .values(status=OutboxStatus.SENDING.value, sent_at=None, claimed_at=NOW)
        )
    hour_later = NOW + timedelta(hours=1)

    assert outbox.send_due(db, settings, now=hour_later).outcomes == []
    assert outbox.stuck(db, timedelta(minutes=15), now=NOW + timedelta(minutes=5)) == []
    assert [r["id"] for r in outbox.stuck(db, timedelta(minutes=15), now=hour_later)] == [email_id]
    with pytest.raises(InvalidInput, match="may still be sending"):
        outbox.retry(
            db, [email_id], ACTOR, older_than=timedelta(minutes=15), now=NOW + timedelta(minutes=5)
        )

    listed = onboard(db, 0, "outbox", "list", "--status", "sending", "--format", "jsonl")
    [row] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (row["stuck"], row["may_have_been_delivered"]) == (True, True)
    assert row["claimed_at"].startswith("2026-01-05")
    table = onboard(db, 0, "outbox", "list")
    assert "sending (stuck: may have been delivered)" in table.stdout
    assert "claimed_at" in table.stdout

    # The sender's next run says so, where the operator looks.
    reported = onboard(db, 0, "outbox", "send")
    assert reported.exit_code == 0, reported.output
    assert "1 e-mail(s) stuck in `sending` since 2026-01-05 09:00:00 UTC" in reported.stderr
    assert "may have been delivered" in reported.stderr

    # Re-sending it is a deliberate choice: refused (nothing changed) unless accepted.
    add_accounts(db, ACTOR)
    refused = onboard(db, 0, "outbox", "retry", str(email_id), "--actor", ACTOR.email)
    assert refused.exit_code == 2
    assert "MAY ALREADY HAVE ARRIVED" in refused.stderr and "--may-duplicate" in refused.stderr
    assert stored(db, "welcome:ORD-1").status == OutboxStatus.SENDING
    assert audit(db, "outbox.requeue") == []
    accepted = onboard(
        db, 0, "outbox", "retry", str(email_id), "--may-duplicate", "--actor", ACTOR.email
    )
    assert accepted.exit_code == 0, accepted.output
    assert f"1 e-mail(s) back in the queue: {email_id}" in accepted.stdout
    [event] = audit(db, "outbox.requeue")
    assert event.actor == ACTOR.email
    assert event.after == {"status": "pending", "attempts": 1, "may_duplicate": True}

    assert outbox.send_due(db, settings).sent == 1  # due now, by the command's real clock
    first, second = smtp.to("alice@customer.example")
    assert first["Message-ID"] == second["Message-ID"]  # the receiver can drop the copy


def test_the_send_command_reads_the_smtp_server_from_the_environment(
    db: Database, smtp_server: tuple[RecordingHandler, int], smtp: RecordingHandler
) -> None:
    queue(db, "welcome:ORD-1", "alice@customer.example")
    queue(db, "welcome:ORD-2", "bob@customer.example")
    port = smtp_server[1]

    result = onboard(db, port, "outbox", "send", "--limit", "1", "--format", "json")

    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert (payload["sent"], payload["remaining"], payload["unreachable"]) == (1, 1, None)
    assert [r.sender for r in smtp.received] == ["onboarding@desk.example"]

    table = onboard(db, port, "outbox", "send")
    assert table.exit_code == 0, table.output
    assert "sent 1, retried 0, failed 0, skipped 0, postponed 0" in table.stdout
    assert {r.recipients[0] for r in smtp.received} == {
        "alice@customer.example",
        "bob@customer.example",
    }
