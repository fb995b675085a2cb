"""The e-mail links end to end, on SQLite and PostgreSQL: the app (`streamlit run
dashboard/server.py`) with `ONBOARD_PUBLIC_URL` pointing at itself, the outbox sent to a
real SMTP server (aiosmtpd on 127.0.0.1), each link read from the delivered message and
opened in Chromium as the person it was sent to.

1. ORD-3001 (a direct order on northwind.co.uk): the contact picks the established org,
   which waits for its administrator; the approval e-mail's *Approve* link, opened in
   another browser, approves; the contact's link then sets up Meetings. ORD-3002 (no
   match): the contact creates a new organization and sets up Meetings and Calling, then
   downloads the summary PDF. An operator sees both done, the audit names both people.
2. A delegate's link works and the contact's old one gets the calm page; tampered and
   answered links too; a welcome made obsolete by a corrected address is never delivered.
3. No token of the run (`ol_` links, `ss_` sessions, `sh_` sign-in nonces) is in the
   server's output or any audit or outbox text.

Screenshots of what the customer and the org administrator see go to `test-output/e2e/`;
with `ONBOARD_UPDATE_SCREENSHOTS=1` the SQLite run also refreshes the README's few in
`docs/screenshots/` (a normal run leaves the checkout untouched).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from provisioning import orders, outbox
from provisioning.access import accounts, sessions
from provisioning.dataset import import_dataset
from provisioning.db import Database
from provisioning.finder.answers import refresh_matches
from provisioning.models import AuditEvent, Order, OutboxEmail
from provisioning.settings import Settings
from provisioning.states import Role
from tests.conftest import FIXTURES, private_postgres_schema
from tests.e2e.conftest import (
    ADMIN,
    OPERATOR,
    PASSWORD,
    ROOT,
    SCREENSHOTS,
    free_port,
    serve_app,
    sign_in,
    wait_idle,
)
from tests.integration.test_email_links import Recorder, parts

pytestmark = pytest.mark.browser

DATASET = FIXTURES / "links"
README_SHOTS = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1100, "height": 800}
CONTACT_A = "mats.ny@northwind.co.uk"  # ORD-3001: matched by domain, needs approval
APPROVER = "helen.admin@northwind.co.uk"  # org-northwind's most recently active user
CONTACT_B = "hello@brightleaf-studio.co.uk"  # ORD-3002: no match, a new org
PARTNER_CONTACT = "ola.hansen@fjordcollab.no"  # ORD-3003: delegates
DELEGATE = "it.chef@nordvik.no"
OLD_ADDRESS = "old.address@lichtenwerk.de"  # ORD-3004: corrected before the first send
NEW_ADDRESS = "max.stein@lichtenwerk.de"
TOKEN = re.compile(r"\b(?:ol|ss|sh)_[A-Za-z0-9_-]{16,}")


@dataclass
class LinksApp:
    """One run's app, its database, its SMTP server and every secret it handed out."""

    backend: str
    url: str
    database_url: str
    log: Path
    smtp: Recorder
    settings: Settings
    tokens: set[str] = field(default_factory=set)
    approval_link: str = ""

    def send(self) -> outbox.SendReport:
        """`onboard outbox send`: every due e-mail, links minted now for this app."""
        db = Database(self.database_url)
        try:
            report = outbox.send_due(db, self.settings)
        finally:
            db.dispose()
        assert report.failed == 0, report
        return report

    def links(self, address: str) -> list[dict[str, str]]:
        """Per message delivered to `address`, oldest first: action -> link (as sent)."""
        pattern = re.compile(
            re.escape(self.url) + r"/link\?t=(ol_[A-Za-z0-9_-]+)(?:&(?:amp;)?answer=(\w+))?"
        )
        found = []
        for message in self.smtp.to(address):
            plain, _html = parts(message)
            actions: dict[str, str] = {}
            for token, answer in pattern.findall(plain):
                self.tokens.add(token)
                suffix = f"&answer={answer}" if answer else ""
                actions[answer or "open"] = f"{self.url}/link?t={token}{suffix}"
            found.append(actions)
        return found

    def messages(self, address: str) -> list[EmailMessage]:
        return self.smtp.to(address)


def _dataset(target: Path) -> Path:
    """The fixture dataset with every order placed just now: a link is valid until its
    order's deadline, which must not pass under the test whatever day it runs."""
    shutil.copytree(DATASET, target)
    orders_csv = target / "orders.csv"
    lines = orders_csv.read_text(encoding="utf-8").splitlines()
    placed = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
    shifted = [lines[0]]
    for number, line in enumerate(lines[1:]):
        cells = line.split(",")
        cells[1] = (placed + timedelta(minutes=number)).strftime("%Y-%m-%dT%H:%M:%SZ")
        shifted.append(",".join(cells))
    orders_csv.write_text("\n".join(shifted) + "\n", encoding="utf-8")
    (target / "README.md").unlink()
    return target


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[tuple[Recorder, int]]:
    from aiosmtpd.controller import Controller

    port = free_port()
    handler = Recorder()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def links_app(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    smtp_server: tuple[Recorder, int],
) -> Iterator[LinksApp]:
    """The dataset imported (each order's welcome queued), the operator's accounts, and
    the app on a port chosen first, so that its links point at it."""
    smtp, smtp_port = smtp_server
    with smtp.lock:
        smtp.received.clear()
    with ExitStack() as stack:
        environment = stack.enter_context(pytest.MonkeyPatch.context())
        environment.setenv("ONBOARD_EMAIL_LANGUAGE", "en")  # the welcomes queued on import
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('links') / 'onboard.sqlite'}"
        else:
            url = stack.enter_context(private_postgres_schema())
        db = Database(url)
        db.ensure_schema()
        import_dataset(db, _dataset(tmp_path_factory.mktemp("data") / "links"), ADMIN)
        refresh_matches(db, datetime.now(UTC))
        accounts.add_account(db, None, ADMIN, Role.ADMIN, password=PASSWORD)
        admin = accounts.actor_for(db, ADMIN)
        accounts.add_account(db, admin, OPERATOR, Role.OPERATOR, password=PASSWORD)
        db.dispose()

        port = free_port()
        public = f"http://127.0.0.1:{port}"
        log = tmp_path_factory.mktemp("streamlit") / "server.log"
        env = {"ONBOARD_PUBLIC_URL": public, "ONBOARD_EMAIL_LANGUAGE": "en"}
        served = stack.enter_context(serve_app(url, log, port=port, env=env))
        assert served == public
        settings = Settings(
            database_url=url,
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            mail_from="Onboarding Desk <onboarding@desk.example>",
            smtp_timeout=5,
            public_url=public,
        )
        yield LinksApp(request.param, public, url, log, smtp, settings)


@pytest.fixture
def people(browser, links_app: LinksApp) -> Iterator[Callable[[], Page]]:
    """New browser contexts, one per person (their own cookies and Streamlit session);
    every sign-in nonce a page posts is kept for the no-token-anywhere check."""
    with ExitStack() as stack:

        def person() -> Page:
            context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
            stack.callback(context.close)

            def keep_nonce(request) -> None:
                if "/_onboard/" in request.url and request.post_data:
                    links_app.tokens.update(TOKEN.findall(request.post_data))

            context.on("request", keep_nonce)
            tab = context.new_page()
            tab.set_default_timeout(30_000)
            return tab

        yield person


def _key(page, key: str):
    return page.locator(f".st-key-{key}")


def _click(page, key: str) -> None:
    _key(page, key).locator("button").first.click()
    wait_idle(page)


def _shows(page, text: str) -> None:
    """Wait for what an action leads to, then for its rerun to be over."""
    expect(page.get_by_text(text).first).to_be_visible(timeout=30_000)
    wait_idle(page)


def _fill(page, key: str, value: str) -> None:
    _key(page, key).locator("input").first.fill(value)


def _choose(page, key: str, option: str) -> None:
    """Pick an option of a selectbox: typing filters its (virtual) list to that one."""
    box = _key(page, key).get_by_role("combobox").first
    box.click()
    page.keyboard.type(option)
    page.get_by_role("option", name=option, exact=True).click()
    expect(box).to_have_value(option)
    box.blur()


def _open(page, link: str) -> None:
    page.goto(link)
    wait_idle(page)


def _shot(app: LinksApp, page, name: str, readme: bool = False) -> None:
    """What the person sees now, at the viewport's size; asked to, the SQLite run's best
    few also go to the README's folder."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"links_{app.backend}_{name}.png"
    page.screenshot(path=str(path), full_page=False)
    if readme and app.backend == "sqlite" and os.environ.get("ONBOARD_UPDATE_SCREENSHOTS"):
        README_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, README_SHOTS / f"{name}.png")


def _session_cookies(page) -> list[str]:
    """The sign-in cookie's value, once the page has handed it to the browser."""
    expect(page.locator(".st-key-sign_out")).to_be_visible()
    for _attempt in range(50):
        found = [c["value"] for c in page.context.cookies() if c["name"] == sessions.COOKIE_NAME]
        if found:
            return found
        page.wait_for_timeout(200)
    raise AssertionError("the sign-in did not hand the browser its cookie")


def _calm(page) -> None:
    _shows(page, "This link is not valid any more")
    assert page.locator(".st-key-link_intent").count() == 0


def test_contacts_and_an_approver_complete_two_orders_through_their_links(
    links_app: LinksApp, people
) -> None:
    app = links_app
    db = Database(app.database_url)
    try:  # `orders set-email` before anything was sent: the old welcome is now obsolete
        orders.correct_email(db, "ORD-3004", NEW_ADDRESS, accounts.actor_for(db, OPERATOR))
    finally:
        db.dispose()
    assert app.send().sent == 4  # the welcomes queued on arrival, one to the new address
    [welcome_a] = app.links(CONTACT_A)
    [welcome_b] = app.links(CONTACT_B)
    assert app.messages(CONTACT_A)[0]["Subject"] == (
        "Provisioning information required for order ORD-3001"
    )

    # (a) matched by domain: the established org waits for its administrator.
    contact_a = people()
    _open(contact_a, welcome_a["open"])
    _shows(contact_a, "Who is this order for?")
    assert "t=" not in contact_a.url  # the token left the address bar
    _shot(app, contact_a, "link-first-page")
    _key(contact_a, "link_intent").get_by_text("This order is for my company").click()
    _click(contact_a, "link_intent_next")
    _shows(contact_a, "We found matching organizations based on your e-mail")
    expect(_key(contact_a, "link_pick_org-northwind-test")).to_have_count(1)
    expect(contact_a.get_by_text("Domain northwind.co.uk: verified")).to_be_visible()
    _shot(app, contact_a, "finder-matches", readme=True)
    _click(contact_a, "link_pick_org-northwind")
    _shows(contact_a, "Waiting for the organization's approval")
    assert APPROVER not in contact_a.locator("[data-testid='stMain']").inner_text()
    _shot(app, contact_a, "waiting-for-approval")

    app.send()
    [approval] = app.links(APPROVER)
    assert set(approval) == {"approve", "decline"}
    app.approval_link = approval["approve"]
    approver = people()  # the administrator's own browser
    _open(approver, approval["approve"])
    _shows(approver, "Approve adding an order to Northwind Freight Ltd")
    expect(approver.get_by_text(CONTACT_A).first).to_be_visible()
    _shot(app, approver, "approval-page", readme=True)
    _click(approver, "link_approve")
    _shows(approver, "You approved adding the order to your organization.")

    _open(contact_a, welcome_a["open"])  # "open this link again to continue"
    _shows(contact_a, "Service setup")
    expect(contact_a.get_by_text("50 of 50 licences distributed")).to_be_visible()
    _click(contact_a, "link_meetings_save")
    _shows(contact_a, "Your services are set up")

    # (b) no match: a new organization, then Meetings and Calling.
    contact_b = people()
    _open(contact_b, welcome_b["open"])
    _key(contact_b, "link_intent").get_by_text("This order is for a customer").click()
    _click(contact_b, "link_intent_next")
    _shows(contact_b, "No matching organization found")
    _fill(contact_b, "link_org_name", "Brightleaf Studio Ltd")
    _choose(contact_b, "link_org_industry", "Media")
    country = _key(contact_b, "link_org_country").get_by_role("combobox")
    expect(country).to_have_value("United Kingdom")  # the order's country, filled in
    _key(contact_b, "link_create_org").scroll_into_view_if_needed()
    _shot(app, contact_b, "new-organization", readme=True)
    _click(contact_b, "link_create_org")
    _shows(contact_b, "Service setup")
    expect(contact_b.get_by_text("25 of 25 licences distributed")).to_be_visible()
    _key(contact_b, "link_meetings_save").scroll_into_view_if_needed()
    _shot(app, contact_b, "services", readme=True)
    _click(contact_b, "link_meetings_save")
    _shows(contact_b, "Webex Meetings is set up.")
    _fill(contact_b, "link_calling_name", "Head office")
    _fill(contact_b, "link_calling_address_line1", "221 Baker Street")
    _fill(contact_b, "link_calling_city", "London")
    _fill(contact_b, "link_calling_postal_code", "NW1 6XE")
    _click(contact_b, "link_calling_save")
    _shows(contact_b, "Your services are set up")
    button = _key(contact_b, "link_pdf").locator("button")
    expect(button).to_be_visible()
    heading = contact_b.get_by_role("heading", name="Your services are set up")
    heading.evaluate("element => element.scrollIntoView({block: 'start'})")
    _shot(app, contact_b, "done", readme=True)
    with contact_b.expect_download() as download:
        button.click()
    assert download.value.path().read_bytes().startswith(b"%PDF")
    assert download.value.suggested_filename == "order-summary-ORD-3002-en.pdf"

    # The operator: both orders closed, the people who acted through links named.
    operator = people()
    _open(operator, f"{app.url}/")
    sign_in(operator, OPERATOR)
    for order_id, contact in (("ORD-3001", CONTACT_A), ("ORD-3002", CONTACT_B)):
        _open(operator, f"{app.url}/order?order={order_id}")
        _shows(operator, "This order is closed (Complete)")
        caption = operator.get_by_text("Last acted on through an e-mail link by")
        expect(caption).to_contain_text(f"{contact} (Provisioning contact (e-mail link))")
    app.tokens.update(_session_cookies(operator))
    _open(operator, f"{app.url}/")
    search = _key(operator, "queue_search").locator("input").first
    for order_id, shown in (
        ("ORD-3004", "Orders 1–1 of 1"),  # still waiting for its contact: in the queue
        ("ORD-3001", "No order matches these filters."),  # done: nothing left to do
        ("ORD-3002", "No order matches these filters."),
    ):
        search.fill(order_id)
        search.press("Enter")
        wait_idle(operator)
        _shows(operator, shown)

    db = Database(app.database_url)
    try:
        with db.read() as session:
            states = dict(session.execute(select(Order.order_id, Order.state)).all())
            acted = set(
                session.execute(
                    select(AuditEvent.entity_id, AuditEvent.actor, AuditEvent.role).where(
                        AuditEvent.role.in_(("contact", "approver"))
                    )
                ).all()
            )
    finally:
        db.dispose()
    assert states["ORD-3001"] == states["ORD-3002"] == "complete"
    assert ("ORD-3001", CONTACT_A, "contact") in acted
    assert ("ORD-3001", APPROVER, "approver") in acted
    assert ("ORD-3002", CONTACT_B, "contact") in acted


def test_a_delegates_link_works_and_old_tampered_and_answered_links_are_refused(
    links_app: LinksApp, people
) -> None:
    app = links_app
    [contact_link] = app.links(PARTNER_CONTACT)

    contact = people()
    _open(contact, contact_link["open"])
    _key(contact, "link_intent").get_by_text("I want someone else to complete this order").click()
    _fill(contact, "link_intent_email", DELEGATE)
    _click(contact, "link_intent_next")
    _shows(contact, "Nothing more is needed from you through this link.")

    app.send()
    [invitation] = app.links(DELEGATE)
    delegate = people()
    _open(delegate, invitation["open"])
    _shows(delegate, "Who is this order for?")  # the delegate walks the wizard from the start
    expect(delegate.get_by_text("Order ORD-3003 for Nordvik Bygg")).to_be_visible()
    _key(delegate, "link_intent").get_by_text("This order is for my company").click()
    _click(delegate, "link_intent_next")
    _shows(delegate, "Organization finder")

    _open(contact, contact_link["open"])  # delegated: the contact's link is revoked
    _calm(contact)
    _shot(app, contact, "invalid-link", readme=True)

    [welcome] = app.links(NEW_ADDRESS)
    tampered = welcome["open"][:-4] + ("AAAA" if not welcome["open"].endswith("AAAA") else "BBBB")
    stranger = people()
    _open(stranger, tampered)
    _calm(stranger)
    _open(stranger, app.approval_link)  # answered already: its job is done
    _calm(stranger)
    _open(stranger, welcome["open"])  # the real one still works
    _shows(stranger, "Who is this order for?")

    assert app.smtp.to(OLD_ADDRESS) == []
    db = Database(app.database_url)
    try:
        with db.read() as session:
            [cancelled] = session.scalars(
                select(OutboxEmail).where(OutboxEmail.recipient == OLD_ADDRESS)
            ).all()
    finally:
        db.dispose()
    assert cancelled.status == "cancelled"


def test_no_token_of_the_run_is_in_the_logs_or_the_audit_trail(links_app: LinksApp) -> None:
    app = links_app
    link_tokens = {t for t in app.tokens if t.startswith("ol_")}
    assert len(link_tokens) >= 6  # welcomes, the approval, the delegate's invitation
    assert any(t.startswith("ss_") for t in app.tokens), "no session cookie was seen"
    assert any(t.startswith("sh_") for t in app.tokens), "no sign-in nonce was seen"
    logged = app.log.read_text(encoding="utf-8", errors="replace")
    assert "/link?t=" not in logged
    assert TOKEN.findall(logged) == []
    assert [t for t in app.tokens if t in logged] == []

    db = Database(app.database_url)
    try:
        with db.read() as session:
            stored = [
                str(value)
                for table in (AuditEvent.__table__, OutboxEmail.__table__)
                for row in session.execute(select(table))
                for value in row
                if value is not None
            ]
    finally:
        db.dispose()
    text = "\n".join(stored)
    assert TOKEN.findall(text) == []
    assert [t for t in app.tokens if t in text] == []
