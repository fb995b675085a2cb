"""The e-mails people act from, end to end against a real SMTP server (aiosmtpd on
127.0.0.1): an arriving order's welcome, queued once; delivered as text and HTML in the
order's language with a link minted at send time that opens that order for that person
and is stored nowhere; and obsolete e-mail cancelled, its links refused, when the contact
changes, the order is delegated, an approval is answered or withdrawn, or it completes."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import select, update

from provisioning import orders, outbox
from provisioning.access import links
from provisioning.cli import cli
from provisioning.dataset import import_dataset
from provisioning.db import Database
from provisioning.demo.seed import create_demo
from provisioning.demo.world import WorldParams
from provisioning.errors import InvalidInput
from provisioning.models import AuditEvent, Base, Order, OrderLink, OrgApproval, OutboxEmail
from provisioning.settings import Settings
from provisioning.states import LinkRole, OrderState, OutboxStatus
from tests.conftest import FIXTURES
from tests.people import OPERATOR

pytestmark = pytest.mark.db

ARRIVED = datetime(2026, 11, 24, 8, tzinfo=UTC)  # the import
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)  # the mini orders' deadlines are 30 days on
PUBLIC = "https://desk.example"
OPEN_ORDERS = {"ORD-1001", "ORD-1002", "ORD-1003", "ORD-1004", "ORD-1005"}
LINK = re.compile(re.escape(PUBLIC) + r"/link\?t=(ol_[A-Za-z0-9_-]+)(?:&(?:amp;)?answer=(\w+))?")


@dataclass
class Recorder:
    """An SMTP handler that keeps what it accepted; `refuse` answers a recipient's RCPT
    with the given replies, one per try, before accepting it."""

    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    refuse: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self.lock:
            answers = self.refuse.get(address)
            if answers:
                return answers.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.received.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for rcpt, m in self.received if address in rcpt]


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[tuple[Recorder, int]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    handler = Recorder()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def smtp(smtp_server: tuple[Recorder, int]) -> Recorder:
    handler = smtp_server[0]
    with handler.lock:
        handler.received.clear()
        handler.refuse.clear()
    return handler


@pytest.fixture(autouse=True)
def english_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONBOARD_EMAIL_LANGUAGE", "en")


@pytest.fixture
def mini(db: Database) -> Database:
    import_dataset(db, FIXTURES / "mini", OPERATOR.email, now=ARRIVED)
    return db


@pytest.fixture
def settings(db: Database, smtp_server: tuple[Recorder, int]) -> Settings:
    return Settings(
        database_url=db.url,
        smtp_host="127.0.0.1",
        smtp_port=smtp_server[1],
        mail_from="Onboarding Desk <onboarding@desk.example>",
        smtp_timeout=5,
        public_url=PUBLIC,
    )


def rows(db: Database, **where: object) -> list[OutboxEmail]:
    statement = select(OutboxEmail).order_by(OutboxEmail.id)
    for name, value in where.items():
        statement = statement.where(getattr(OutboxEmail, name) == value)
    with db.read() as session:
        return list(session.scalars(statement))


def parts(message: EmailMessage) -> tuple[str, str]:
    """The plain text and the HTML of a delivered multipart/alternative message."""
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


def tokens(message: EmailMessage) -> dict[str, str]:
    """action (open / approve / decline) -> token, the same in the text and the HTML."""
    plain, html = parts(message)
    found = [{m[1] or "open": m[0] for m in LINK.findall(text)} for text in (plain, html)]
    assert found[0] == found[1], "the button and the plain link differ"
    return found[0]


def token_of(message: EmailMessage) -> str:
    return tokens(message)["open"]


def refused(db: Database, token: str) -> bool:
    try:
        links.resolve(db, token, client="test", now=NOW)
    except links.LinkRefused:
        return True
    return False


def stored_anywhere(db: Database, needle: str) -> list[str]:
    """The tables whose stored values contain `needle` (every column of every row)."""
    found = []
    with db.read() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                if any(needle in str(value) for value in row):
                    found.append(table.name)
                    break
    return found


def send(db: Database, settings: Settings, now: datetime = NOW) -> outbox.SendReport:
    return outbox.send_due(db, settings, now=now)


# --- Welcome on arrival -----------------------------------------------------------------


def test_every_arriving_order_gets_its_welcome_once(mini: Database) -> None:
    welcomes = rows(mini, kind="welcome")
    assert {w.order_id for w in welcomes} == OPEN_ORDERS  # not the history orders
    assert all(w.status == "pending" and w.link_role == "contact" for w in welcomes)
    assert {w.order_id: w.lang for w in welcomes}["ORD-1005"] == "en"  # DE: the default
    assert {w.lang for w in welcomes if w.order_id != "ORD-1005"} == {"sv"}  # SE
    assert all(outbox.placeholder() in w.body and outbox.placeholder() in w.html for w in welcomes)
    assert all(PUBLIC not in w.body for w in welcomes)  # no link until it is sent

    import_dataset(mini, FIXTURES / "mini", OPERATOR.email, now=ARRIVED)
    import_dataset(mini, FIXTURES / "mini", OPERATOR.email, now=NOW)
    assert len(rows(mini)) == len(welcomes)


def test_the_default_language_setting_applies_to_other_countries(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONBOARD_EMAIL_LANGUAGE", "sv")
    import_dataset(db, FIXTURES / "mini", OPERATOR.email, now=ARRIVED)
    assert {w.lang for w in rows(db, kind="welcome")} == {"sv"}


def test_the_demo_queues_welcomes_only_for_orders_still_waiting_for_them(db: Database) -> None:
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    report = create_demo(db, WorldParams(orgs=150, seed=3, now=now), "demo@example.com")
    waiting = {p.order_id for p in report.plans if p.state is OrderState.AWAITING_INTENT}
    moved = {
        p.order_id
        for p in report.plans
        if p.state not in (OrderState.AWAITING_INTENT, OrderState.HISTORY)
    }
    assert waiting and moved
    welcomes = {w.order_id: w for w in rows(db, kind="welcome")}
    assert {o for o, w in welcomes.items() if w.status == "pending"} == waiting
    # The others answered theirs before the records begin: nothing to send them now.
    assert not moved & set(welcomes)
    with db.read() as session:
        assert session.scalars(select(OrderLink)).first() is None


# --- Delivery and the link ----------------------------------------------------------


def test_the_welcome_arrives_as_text_and_html_with_a_link_for_that_contact(
    mini: Database, smtp: Recorder, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        report = send(mini, settings)
    # No link in any log of ours (the test's SMTP server logs what it receives: not ours).
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail"))
    assert PUBLIC not in logged and "ol_" not in logged
    assert report.sent == 5 and report.failed == report.cancelled == 0

    [swedish] = smtp.to("anna.lind@acme.se")
    assert swedish["Subject"] == "Provisioneringsinformation som krävs för beställning ORD-1001"
    assert swedish["Content-Language"] == "sv"
    plain, html = parts(swedish)
    assert "Konfigurera din tjänst" in plain and "Konfigurera din tjänst</a>" in html
    assert "Acme Logistik AB" in plain and '<html lang="sv">' in html
    token = token_of(swedish)

    actor = links.resolve(mini, token, client="test", now=NOW)
    assert (actor.email, actor.role, actor.order_id) == (
        "anna.lind@acme.se",
        LinkRole.CONTACT,
        "ORD-1001",
    )
    [english] = smtp.to("max.stein@lichtenwerk.de")
    assert english["Subject"] == "Provisioning information required for order ORD-1005"
    assert english["Content-Language"] == "en"
    assert "Configure your service" in parts(english)[0]
    assert links.resolve(mini, token_of(english), now=NOW).order_id == "ORD-1005"

    # The token is nowhere: not in the outbox, the audit trail or the links (a hash).
    for message in smtp.to("anna.lind@acme.se") + smtp.to("max.stein@lichtenwerk.de"):
        assert stored_anywhere(mini, token_of(message)) == []
    assert all(PUBLIC not in (w.body + (w.html or "")) for w in rows(mini))
    with mini.read() as session:
        link = session.scalars(select(OrderLink).where(OrderLink.order_id == "ORD-1001")).one()
    welcome = rows(mini, order_id="ORD-1001", kind="welcome")[0]
    assert link.outbox_id == welcome.id and welcome.status == "sent"
    assert link.expires_at == datetime(2026, 12, 20, 10, tzinfo=UTC)  # placed + 30 days


def test_values_people_typed_are_escaped_in_the_html(
    db: Database, smtp: Recorder, settings: Settings
) -> None:
    import_dataset(db, FIXTURES / "mini", OPERATOR.email, now=ARRIVED)
    orders.set_intent(db, "ORD-1003", "customer", OPERATOR, now=NOW)
    orders.create_org(db, "ORD-1003", 'Sjöberg <b>"Media"</b>', "Media", "SE", OPERATOR, now=NOW)
    orders.hand_to_customer(db, "ORD-1003", "vd@sjoberg-media.se", OPERATOR, now=NOW)
    send(db, settings)
    [message] = smtp.to("vd@sjoberg-media.se")
    plain, html = parts(message)
    assert 'Sjöberg <b>"Media"</b>' in plain
    assert "Sjöberg &lt;b&gt;&quot;Media&quot;&lt;/b&gt;" in html and "<b>" not in html
    assert 'href="https://admin.webex.com"' in html  # Control Hub, no order link
    assert LINK.search(plain) is None


def test_a_failed_send_revokes_the_link_it_minted(
    mini: Database, smtp: Recorder, settings: Settings
) -> None:
    smtp.refuse["anna.lind@acme.se"] = ["450 4.2.1 mailbox busy"]
    report = send(mini, settings)
    assert report.retried == 1
    with mini.read() as session:
        [minted] = session.scalars(select(OrderLink).where(OrderLink.order_id == "ORD-1001"))
    assert minted.revoked_reason == "not delivered"

    send(mini, settings, now=NOW + timedelta(hours=1))
    [message] = smtp.to("anna.lind@acme.se")
    assert links.resolve(mini, token_of(message), now=NOW).email == "anna.lind@acme.se"


# --- No stale e-mail --------------------------------------------------------------------


def test_a_corrected_address_cancels_the_old_welcome_and_refuses_its_link(
    mini: Database, smtp: Recorder, settings: Settings
) -> None:
    send(mini, settings)
    [first] = smtp.to("info@sjoberg-media.se")
    old_link = token_of(first)
    assert orders.resend_welcome(mini, "ORD-1003", OPERATOR, now=NOW).changed is True

    orders.correct_email(mini, "ORD-1003", "vd@sjoberg-media.se", OPERATOR, now=NOW)
    assert orders.resend_welcome(mini, "ORD-1003", OPERATOR, now=NOW).changed is False
    report = send(mini, settings, now=NOW + timedelta(minutes=1))

    assert len(smtp.to("info@sjoberg-media.se")) == 1  # the re-sent welcome never went out
    [new] = smtp.to("vd@sjoberg-media.se")
    assert report.sent == 1
    assert refused(mini, old_link)
    assert links.resolve(mini, token_of(new), now=NOW).email == "vd@sjoberg-media.se"
    [cancelled] = rows(mini, status="cancelled")
    assert cancelled.recipient == "info@sjoberg-media.se"
    assert "provisioning e-mail changed" in (cancelled.cancelled_reason or "")
    with mini.read() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "order.email_corrected")
        ).one()
    assert event.after["cancelled_emails"] == [cancelled.id]

    listed = CliRunner().invoke(
        cli, ["--db", mini.url, "outbox", "list", "--status", "cancelled", "--format", "json"]
    )
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.stdout)
    assert row["id"] == cancelled.id and "changed" in row["cancelled_reason"]


def test_an_email_already_being_sent_cannot_be_stopped_and_says_so(
    mini: Database, smtp: Recorder, settings: Settings
) -> None:
    [welcome] = rows(mini, order_id="ORD-1003", kind="welcome")
    with mini.write() as session:  # a sender has taken it this very moment
        session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id == welcome.id)
            .values(status=OutboxStatus.SENDING.value, claimed_at=NOW)
        )
    orders.correct_email(mini, "ORD-1003", "vd@sjoberg-media.se", OPERATOR, now=NOW)
    [taken] = rows(mini, id=welcome.id)
    assert taken.status == "sending"
    assert "already being sent and could not be stopped" in (taken.cancelled_reason or "")
    with pytest.raises(InvalidInput, match="cannot be retried") as refusal:
        outbox.retry(mini, [welcome.id], OPERATOR, older_than=timedelta(0), now=NOW)
    assert "obsolete" in refusal.value.errors[0].reason


def test_the_approval_email_has_approve_and_decline_bound_to_its_request(
    mini: Database, smtp: Recorder, settings: Settings
) -> None:
    orders.set_intent(mini, "ORD-1002", "own-company", OPERATOR, now=NOW)
    orders.map_org(mini, "ORD-1002", "org-acme", OPERATOR, now=NOW)
    send(mini, settings)
    [message] = smtp.to("per.holm@acme.se")
    assert message["Subject"] == "Godkänn att beställningen ORD-1002 läggs till i Acme Logistik AB"
    found = tokens(message)
    assert set(found) == {"approve", "decline"} and found["approve"] == found["decline"]
    with mini.read() as session:
        approval = session.scalars(select(OrgApproval)).one()
    approver = links.resolve(mini, found["approve"], now=NOW)
    assert (approver.role, approver.order_id, approver.approval_id) == (
        LinkRole.APPROVER,
        "ORD-1002",
        approval.id,
    )

    assert orders.answer_approval(mini, "ORD-1002", True, approver, now=NOW).changed
    assert refused(mini, found["approve"])  # answered: its link has done its job


def test_an_answered_or_withdrawn_approval_request_is_never_delivered(
    mini: Database, smtp: Recorder, settings: Settings
) -> None:
    orders.set_intent(mini, "ORD-1002", "own-company", OPERATOR, now=NOW)
    orders.map_org(mini, "ORD-1002", "org-acme", OPERATOR, now=NOW)
    orders.answer_approval(mini, "ORD-1002", False, OPERATOR, "not ours", now=NOW)
    orders.map_org(mini, "ORD-1002", "org-acme", OPERATOR, now=NOW)
    orders.unmap(mini, "ORD-1002", "wrong org", OPERATOR, now=NOW)

    send(mini, settings)
    assert smtp.to("per.holm@acme.se") == []
    reasons = [r.cancelled_reason for r in rows(mini, kind="approval")]
    assert reasons == ["the approval request was declined", "the mapping was reversed"]


def test_a_delegates_link_works_and_the_contacts_old_one_is_refused(
    mini: Database, smtp: Recorder, settings: Settings
) -> None:
    send(mini, settings)
    contact_link = token_of(smtp.to("ola.hansen@fjordcollab.no")[0])
    orders.set_intent(mini, "ORD-1004", "delegate", OPERATOR, "it.chef@nordvik.se", now=NOW)
    send(mini, settings)

    [invitation] = smtp.to("it.chef@nordvik.se")
    delegate = links.resolve(mini, token_of(invitation), now=NOW)
    assert (delegate.email, delegate.role, delegate.order_id) == (
        "it.chef@nordvik.se",
        LinkRole.DELEGATE,
        "ORD-1004",
    )
    assert refused(mini, contact_link)

    orders.set_intent(mini, "ORD-1004", "delegate", delegate, "vd@nordvik.se", now=NOW)
    assert refused(mini, token_of(invitation))  # the previous delegate's link too
    send(mini, settings)
    assert links.resolve(mini, token_of(smtp.to("vd@nordvik.se")[0]), now=NOW).order_id == (
        "ORD-1004"
    )


def test_a_complete_order_cancels_its_unsent_mail_and_refuses_its_links(
    mini: Database, smtp: Recorder, settings: Settings
) -> None:
    orders.set_intent(mini, "ORD-1003", "customer", OPERATOR, now=NOW)
    orders.create_org(mini, "ORD-1003", "Sjöberg Media AB", "Media", "SE", OPERATOR, now=NOW)
    assert [r.status for r in rows(mini, order_id="ORD-1003")] == ["pending"]  # the welcome
    with mini.write() as session:
        link = links.mint(
            session,
            order_id="ORD-1003",
            role=LinkRole.CONTACT,
            email="info@sjoberg-media.se",
            expires_at=NOW + timedelta(days=3),
            now=NOW,
        )
    done = orders.set_up_meetings(mini, "ORD-1003", [("sjoberg", 25)], "UTC", OPERATOR, now=NOW)
    assert done.state == "complete"

    send(mini, settings)
    assert smtp.to("info@sjoberg-media.se") == []
    [welcome] = rows(mini, order_id="ORD-1003", kind="welcome")
    assert (welcome.status, welcome.cancelled_reason) == ("cancelled", "the order is complete")
    assert refused(mini, link)


def test_a_message_whose_person_changed_some_other_way_is_cancelled_when_sent(
    mini: Database, smtp: Recorder, settings: Settings
) -> None:
    """A last check at send time: here the address changed behind the workflow's back."""
    with mini.write() as session:
        session.execute(
            update(Order)
            .where(Order.order_id == "ORD-1001")
            .values(provisioning_email="someone@acme.se")
        )
    report = send(mini, settings)
    assert report.cancelled == 1 and smtp.to("anna.lind@acme.se") == []
    [welcome] = rows(mini, order_id="ORD-1001")
    assert welcome.status == "cancelled" and "no longer" in (welcome.cancelled_reason or "")


def test_an_expired_order_cancels_its_unsent_mail_and_says_so_without_a_link(
    mini: Database, smtp: Recorder, settings: Settings
) -> None:
    send(mini, settings)
    contact_link = token_of(smtp.to("anna.lind@acme.se")[0])
    orders.resend_welcome(mini, "ORD-1001", OPERATOR, now=NOW)
    later = datetime(2026, 12, 21, 9, tzinfo=UTC)  # past every mini order's deadline
    swept = orders.sweep(mini, orders.DeadlinePolicy.from_settings(settings), now=later)
    assert "ORD-1001" in swept.expired

    send(mini, settings, now=later)
    [_first_welcome, notice] = smtp.to("anna.lind@acme.se")
    assert notice["Subject"] == "Webex-beställningen ORD-1001 har upphört att gälla"
    assert LINK.search(parts(notice)[0]) is None
    [resent] = [r for r in rows(mini, order_id="ORD-1001") if r.status == "cancelled"]
    assert resent.cancelled_reason == "the order is expired"
    assert refused(mini, contact_link)
