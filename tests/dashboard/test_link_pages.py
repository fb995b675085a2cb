"""The pages an e-mail link opens, in AppTest through the app's router, on the mini dataset
(tests/fixtures/mini/README.md) plus one order with nothing to match (ORD-2001, GB,
Meetings and Calling).

Tokens are minted directly (`links.mint`), as the e-mails mint them; every step is taken
on the page as the contact, the delegate or the org administrator would, and the
assertions are on what they see and on what the database then holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from provisioning import orders
from provisioning.access import Actor, links
from provisioning.dataset import import_dataset
from provisioning.db import Database
from provisioning.errors import Forbidden
from provisioning.models import AuditEvent, Member, Order, OrderService, OrgApproval
from provisioning.models.base import utcnow
from provisioning.orders import customer
from provisioning.states import LinkRole, Role
from tests.conftest import FIXTURES
from tests.dashboard.conftest import APP, SIGNED_IN, account

OPERATOR = Actor("operator@example.com", Role.OPERATOR)
NEWCO = {
    "orgs.csv": "org_id,name,country,industry,created_at,status,partner_id\n",
    "domains.csv": "org_id,domain,status\n",
    "users.csv": "org_id,email,status,last_activity_at\n",
    "orders.csv": "order_id,placed_at,partner_id,provisioning_email,company_name,country\n"
    f"ORD-2001,{utcnow():%Y-%m-%dT%H:%M:%SZ},,kim@newco-widgets.co.uk,Newco Widgets Ltd,GB\n",
    "order_lines.csv": "order_id,service,quantity,is_trial_conversion,is_addon\n"
    "ORD-2001,meetings,30,false,false\nORD-2001,calling,10,false,false\n",
}


@pytest.fixture
def mini(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setenv("ONBOARD_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ONBOARD_EMAIL_LANGUAGE", "en")
    st.cache_data.clear()
    st.cache_resource.clear()
    db = Database(sqlite_url)
    db.ensure_schema()
    import_dataset(db, FIXTURES / "mini", OPERATOR.email)
    extra = tmp_path / "newco"
    extra.mkdir()
    for name, text in NEWCO.items():
        (extra / name).write_text(text, encoding="utf-8")
    import_dataset(db, extra, OPERATOR.email)
    yield db
    st.cache_data.clear()
    st.cache_resource.clear()
    db.dispose()


def mint(
    db: Database,
    order_id: str,
    role: LinkRole = LinkRole.CONTACT,
    email: str | None = None,
    approval_id: int | None = None,
    expires_in: timedelta = timedelta(days=7),
) -> str:
    with db.write() as session:
        if email is None:
            email = session.get_one(Order, order_id).provisioning_email
        return links.mint(
            session,
            order_id=order_id,
            role=role,
            email=email,
            approval_id=approval_id,
            expires_at=utcnow() + expires_in,
        )


def run(target: AppTest | Any) -> AppTest:
    at = target.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_link(token: str, answer: str | None = None, actor: Actor | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if actor is not None:
        at.session_state[SIGNED_IN] = actor
    at.query_params["t"] = token
    if answer:
        at.query_params["answer"] = answer
    return run(at)


def in_english(at: AppTest) -> AppTest:
    """A Swedish order's page opens in Swedish; its reader may switch (as these tests do)."""
    at.selectbox(key="ui_lang").set_value("en")
    return run(at)


def flat(node: Any) -> list[Any]:
    found = []
    for child in getattr(node, "children", {}).values():
        found.append(child)
        found.extend(flat(child))
    return found


def texts(at: AppTest) -> str:
    kinds = ("title", "subheader", "markdown", "caption", "info", "success", "warning", "error")
    return "\n".join(str(getattr(e, "value", "")) for e in flat(at.main) if e.type in kinds)


def order(db: Database, order_id: str) -> Order:
    with db.read() as session:
        found = session.get_one(Order, order_id)
        session.expunge(found)
        return found


def events(db: Database, order_id: str) -> list[tuple[str, str, str]]:
    with db.read() as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.actor, AuditEvent.role)
            .where(AuditEvent.entity_type == "order", AuditEvent.entity_id == order_id)
            .order_by(AuditEvent.id)
        )
        return [tuple(row) for row in rows]


def pending_approval(db: Database, order_id: str) -> OrgApproval:
    with db.read() as session:
        approval = session.scalars(
            select(OrgApproval).where(OrgApproval.order_id == order_id)
        ).one()
        session.expunge(approval)
        return approval


# --- the calm page ----------------------------------------------------------------------


def test_unknown_revoked_and_expired_links_get_the_same_calm_page(mini: Database) -> None:
    revoked = mint(mini, "ORD-2001")
    with mini.write() as session:
        links.revoke(session, "ORD-2001", "superseded", utcnow())
    expired = mint(mini, "ORD-1002", expires_in=timedelta(seconds=-1))
    pages = [texts(open_link(token)) for token in ("ol_nothing-here", revoked, expired, "x")]
    assert pages[0] == pages[1] == pages[2] == pages[3]
    assert "This link is not valid any more" in pages[0]
    assert "reply to the e-mail you received" in pages[0]
    for secret in ("ORD-", "Newco", "Acme"):
        assert secret not in pages[0]
    # Too many wrong links from one client: even a valid one is refused, the same way.
    for attempt in range(links.MAX_FAILURES):
        open_link(f"ol_guess-{attempt}")
    assert texts(open_link(mint(mini, "ORD-1003"))) == pages[0]


def test_the_token_leaves_the_address_bar_and_a_revoked_link_stops_at_the_next_click(
    mini: Database,
) -> None:
    token = mint(mini, "ORD-2001")
    at = open_link(token)
    assert "t" not in at.query_params
    assert "Who is this order for?" in texts(at)
    with mini.write() as session:
        links.revoke(session, "ORD-2001", "e-mail corrected", utcnow())
    at.radio(key="link_intent").set_value("own-company")
    run(at.button(key="link_intent_next").click())
    assert "This link is not valid any more" in texts(at)
    assert order(mini, "ORD-2001").state == "awaiting_intent"  # nothing was done


# --- the contact's wizard ---------------------------------------------------------------


def test_the_contact_walks_from_intent_to_a_new_org_with_meetings_and_calling(
    mini: Database,
) -> None:
    contact = "kim@newco-widgets.co.uk"
    operator = account(mini)  # a signed-in account in the same browser session
    at = open_link(mint(mini, "ORD-2001"), actor=operator)
    page = texts(at)
    assert "Set up your service" in page
    assert "Order ORD-2001 for Newco Widgets Ltd" in page
    assert "Signed in as" not in page  # the link page is the link's person, not the account
    assert at.radio(key="link_intent").options == [
        "This order is for my company",
        "I want someone else to complete this order",
    ]  # no partner: not for a customer

    at.radio(key="link_intent").set_value("own-company")
    run(at.button(key="link_intent_next").click())
    page = texts(at)
    assert "No matching organization found" in page
    at.selectbox(key="link_org_industry").set_value("Manufacturing")
    run(at.button(key="link_create_org").click())
    assert "Created Newco Widgets Ltd." in texts(at)
    assert order(mini, "ORD-2001").state == "org_mapped"

    # A wrong split is refused next to its field, and nothing is saved.
    at.number_input(key="link_site_licences_1").set_value(5)
    run(at.button(key="link_meetings_save").click())
    page = texts(at)
    assert "Nothing was saved. Correct the fields marked below." in page
    assert order(mini, "ORD-2001").state == "org_mapped"
    at.number_input(key="link_site_licences_1").set_value(30)
    run(at.button(key="link_meetings_save").click())
    assert "Webex Meetings is set up." in texts(at)

    at.text_input(key="link_calling_name").input("London HQ")
    at.text_input(key="link_calling_address_line1").input("1 High Street")
    at.text_input(key="link_calling_city").input("London")
    at.text_input(key="link_calling_postal_code").input("SW1A 1AA")
    run(at.button(key="link_calling_save").click())
    page = texts(at)
    assert "Your services are set up" in page
    assert "Webex Calling is set up." in page
    assert at.get("download_button")  # the order summary PDF

    assert order(mini, "ORD-2001").state == "complete"
    assert [event for event in events(mini, "ORD-2001") if event[1] == contact] == [
        ("order.intent", contact, "contact"),
        ("order.create_org", contact, "contact"),
        ("order.meetings", contact, "contact"),
        ("order.calling", contact, "contact"),
        ("order.complete", contact, "contact"),
    ]
    # The link's work is done: opening it again is the calm page.
    assert "This link is not valid any more" in texts(open_link(mint(mini, "ORD-2001")))


def test_an_exact_match_is_the_seeds_first_outcome_and_a_partner_may_hand_over(
    mini: Database,
) -> None:
    at = in_english(open_link(mint(mini, "ORD-1001")))
    assert at.radio(key="link_intent").options[0] == "This order is for a customer"
    at.radio(key="link_intent").set_value("customer")
    run(at.button(key="link_intent_next").click())
    page = texts(at)
    assert "Based on your e-mail address, we matched your order with your organization" in page
    assert "Your e-mail address is one of its users" in page
    assert "Managed by your partner" in page
    assert "Fjord Collaboration Partners AS" not in page  # never the partner's own org
    run(at.button(key="link_pick_org-acme").click())
    assert "Your role there: Provisioning Administrator" in texts(at)
    at.text_input(key="link_self_setup_email").input("it@acme.se")
    run(at.button(key="link_self_setup").click())
    assert "Sent: it@acme.se continues the setup." in texts(at)
    with mini.read() as session:
        states = dict(
            session.execute(
                select(OrderService.service, OrderService.state).where(
                    OrderService.order_id == "ORD-1001"
                )
            ).all()
        )
    assert states == {"meetings": "customer_self_setup", "calling": "customer_self_setup"}


def test_the_contact_delegates_and_the_delegate_carries_on(mini: Database) -> None:
    at = open_link(mint(mini, "ORD-2001"))
    at.radio(key="link_intent").set_value("delegate")
    run(at.button(key="link_intent_next").click())
    assert "an e-mail address is required" in texts(at)  # next to the field
    assert order(mini, "ORD-2001").state == "awaiting_intent"  # no address: refused
    at.text_input(key="link_intent_email").input("sam@newco-widgets.co.uk")
    run(at.button(key="link_intent_next").click())
    assert order(mini, "ORD-2001").state == "delegated"
    page = texts(at)
    assert "Thank you: sam@newco-widgets.co.uk received an e-mail to complete the order." in page
    assert "not valid any more" not in page  # the contact's link ends kindly
    delegate = open_link(mint(mini, "ORD-2001", LinkRole.DELEGATE, "sam@newco-widgets.co.uk"))
    delegate.radio(key="link_intent").set_value("own-company")
    run(delegate.button(key="link_intent_next").click())
    assert "No matching organization found" in texts(delegate)
    assert ("order.intent", "sam@newco-widgets.co.uk", "delegate") in events(mini, "ORD-2001")


def test_a_domain_match_that_needs_approval_waits_for_the_org_administrator(
    mini: Database,
) -> None:
    at = in_english(open_link(mint(mini, "ORD-1002")))
    at.radio(key="link_intent").set_value("own-company")
    run(at.button(key="link_intent_next").click())
    page = texts(at)
    assert "We found matching organizations based on your e-mail address" in page
    assert "Domain acme.se: claimed" in page
    assert "2 active of 3 users" in page
    run(at.button(key="link_pick_org-acme").click())
    page = texts(at)
    assert "An administrator of Acme Logistik AB was asked to approve" in page
    assert "per.holm@acme.se" not in page
    assert order(mini, "ORD-1002").state == "awaiting_approval"


def test_a_swedish_order_is_shown_in_swedish(mini: Database) -> None:
    at = open_link(mint(mini, "ORD-1002"))
    page = texts(at)
    assert "Konfigurera din tjänst" in page
    assert "Vem gäller den här beställningen?" in page
    assert "Den här beställningen är för mitt företag" in at.radio(key="link_intent").options
    at.selectbox(key="ui_lang").set_value("en")
    assert "Set up your service" in texts(run(at))


def test_the_customer_never_sees_members_e_mails(mini: Database) -> None:
    orders.set_intent(mini, "ORD-1002", "own-company", OPERATOR)
    actor = links.resolve(mini, mint(mini, "ORD-1002"))
    found = customer.finder_view(mini, actor)
    with mini.read() as session:
        members = set(session.scalars(select(Member.email)))
    shown = repr(found)
    assert {c.name for c in found.choices} >= {"Acme Logistik AB"}
    assert "score" not in shown and "reason" not in shown
    assert not [email for email in members if email in shown]
    page = texts(open_link(mint(mini, "ORD-1002")))
    assert not [email for email in members if email in page]


# --- the org administrator --------------------------------------------------------------


def approval_link(db: Database, order_id: str = "ORD-1002") -> str:
    orders.set_intent(db, order_id, "own-company", OPERATOR)
    orders.map_org(db, order_id, "org-acme", OPERATOR)
    approval = pending_approval(db, order_id)
    return mint(db, order_id, LinkRole.APPROVER, approval.admin_email, approval.id)


def test_the_org_administrator_approves(mini: Database) -> None:
    at = in_english(open_link(approval_link(mini), answer="approve"))
    page = texts(at)
    assert "Approve adding an order to Acme Logistik AB" in page
    assert "Acme Logistik" in page and "ORD-1002" in page
    assert "Meetings: 50 licences" in page
    assert "operator@example.com" in page  # who asked
    run(at.button(key="link_approve").click())
    assert "You approved adding the order to your organization." in texts(at)
    assert "This request was already answered" not in texts(at)  # it was answered here
    assert order(mini, "ORD-1002").state == "org_mapped"
    assert ("order.approved", "per.holm@acme.se", "approver") in events(mini, "ORD-1002")


def test_the_org_administrator_declines_with_a_reason_and_cannot_answer_twice(
    mini: Database,
) -> None:
    token = approval_link(mini)
    at = in_english(open_link(token, answer="decline"))
    late = in_english(open_link(token))  # a second tab, opened before the answer
    run(at.button(key="link_decline").click())
    assert "Say why you decline" in texts(at)  # the reason is required
    assert order(mini, "ORD-1002").state == "awaiting_approval"
    at.text_area(key="link_decline_reason").input("Not our company")
    run(at.button(key="link_decline").click())
    assert "You declined" in texts(at)
    assert order(mini, "ORD-1002").state == "awaiting_org"
    run(late.button(key="link_approve").click())
    page = texts(late)
    assert "This request was already answered" in page
    assert "nothing was changed" in page
    assert order(mini, "ORD-1002").state == "awaiting_org"  # the late answer changed nothing


def test_an_approval_already_answered_by_telephone_is_refused_clearly(mini: Database) -> None:
    token = approval_link(mini)
    at = in_english(open_link(token))
    orders.answer_approval(mini, "ORD-1002", False, OPERATOR, reason="by telephone")
    run(at.button(key="link_approve").click())
    page = texts(at)
    assert "This request was already answered" in page
    assert "Approve adding" not in page
    assert order(mini, "ORD-1002").state == "awaiting_org"  # the late approval changed nothing
    # Opened again later, the answered request's link is not valid any more.
    assert "This link is not valid any more" in texts(in_english(open_link(token)))


def test_the_customer_read_models_hold_no_one_elses_people(db: Database) -> None:
    """The service functions themselves, on both databases: names, domains, counts and
    dates; no member's address, no score, no operator's address in the summary."""
    import_dataset(db, FIXTURES / "mini", OPERATOR.email)
    orders.set_intent(db, "ORD-1002", "own-company", OPERATOR)
    contact = links.resolve(db, mint(db, "ORD-1002"))
    found = customer.finder_view(db, contact)
    assert found.outcome == "domain"
    assert found.domain == "acme.se"
    acme = next(c for c in found.choices if c.org_id == "org-acme")
    assert (acme.name, acme.domains, acme.users, acme.active_users) == (
        "Acme Logistik AB",
        (("acme.se", "claimed"),),
        3,
        2,
    )
    assert {c.org_id for c in found.choices} <= {"org-acme", "org-acme-test", "org-acme-sales"}
    with db.read() as session:
        members = set(session.scalars(select(Member.email)))
    assert not [email for email in members if email in repr(found)]

    orders.map_org(db, "ORD-1002", "org-acme", OPERATOR)
    summary = customer.summary_for(db, contact)
    assert {entry.actor for entry in summary.history} <= {"mats.ny@acme.se"}
    approval = pending_approval(db, "ORD-1002")
    approver = links.resolve(
        db, mint(db, "ORD-1002", LinkRole.APPROVER, approval.admin_email, approval.id)
    )
    request = customer.approval_request(db, approver)
    assert (request.org_name, request.requested_by, request.pending) == (
        "Acme Logistik AB",
        OPERATOR.email,
        True,
    )
    with pytest.raises(Forbidden):
        customer.finder_view(db, approver)  # an approver reads its request, nothing more
    with pytest.raises(Forbidden):
        customer.order_view(db, OPERATOR)  # a signed-in account is not a link


def test_the_link_reopens_where_the_person_left_with_their_draft(mini: Database) -> None:
    contact = links.resolve(mini, mint(mini, "ORD-2001"))
    orders.set_intent(mini, "ORD-2001", "own-company", contact)
    orders.create_org(mini, "ORD-2001", "Newco Widgets Ltd", "Manufacturing", "GB", contact)
    at = open_link(mint(mini, "ORD-2001"))
    run(at.button(key="link_meetings_add_site").click())
    at.text_input(key="link_site_name_1").input("newco-main")
    at.number_input(key="link_site_licences_1").set_value(20)
    at.text_input(key="link_site_name_2").input("newco-lab")
    at.number_input(key="link_site_licences_2").set_value(10)
    run(at.button(key="link_meetings_draft").click())
    assert "Draft saved: the form reopens as you left it." in texts(at)

    later = open_link(mint(mini, "ORD-2001"))  # another day, another browser
    assert "Who is this order for?" not in texts(later)  # straight to the services
    assert [later.text_input(key=f"link_site_name_{n}").value for n in (1, 2)] == [
        "newco-main",
        "newco-lab",
    ]
    assert later.number_input(key="link_site_licences_2").value == 10
    assert ("order.draft_saved", "kim@newco-widgets.co.uk", "contact") in events(mini, "ORD-2001")
