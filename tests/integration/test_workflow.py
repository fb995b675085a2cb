"""The provisioning workflow on the system of record: every mini case from order to its
end state, forbidden steps, idempotent repeats, refusals that change nothing, and the
audit trail. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from provisioning import orders
from provisioning.dataset import import_dataset
from provisioning.db import Database
from provisioning.errors import Conflict, InvalidInput
from provisioning.models import (
    AuditEvent,
    CallingLocation,
    MeetingsSite,
    Member,
    OrderService,
    Org,
    OrgApproval,
    OutboxEmail,
    PartnerAccess,
)
from provisioning.orders.unit import ActionResult
from tests.conftest import FIXTURES

pytestmark = pytest.mark.db

from tests.people import OPERATOR, partner_admin  # noqa: E402

STOCKHOLM = {
    "name": "Stockholm HQ",
    "country": "SE",
    "address_line1": "Sveavägen 1",
    "city": "Stockholm",
    "postal_code": "111 57",
}


@pytest.fixture
def mini(db: Database) -> Database:
    import_dataset(db, FIXTURES / "mini", OPERATOR.email)
    return db


def _state(db: Database, order_id: str) -> dict:
    with db.read() as session:
        return orders.order_detail(session, order_id, 30)


def _count(db: Database, model: type, **where: object) -> int:
    with db.read() as session:
        stmt = select(func.count()).select_from(model)
        for name, value in where.items():
            stmt = stmt.where(getattr(model, name) == value)
        return session.scalar(stmt) or 0


def _events(db: Database, order_id: str) -> list[str]:
    with db.read() as session:
        return list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.entity_id == order_id)
                .order_by(AuditEvent.id)
            )
        )


def test_exact_match_to_complete_with_two_sites_and_a_location(mini: Database) -> None:
    """ORD-1001: a partner's customer, exact match, 250 Meetings + 100 Calling licences."""
    orders.set_intent(mini, "ORD-1001", "customer", OPERATOR)
    orders.map_org(mini, "ORD-1001", "org-acme", OPERATOR)
    assert _state(mini, "ORD-1001")["next_step"] == "meetings"
    orders.set_up_meetings(
        mini,
        "ORD-1001",
        [("acme-logistik", 200), ("acme-lab", "50")],
        "Europe/Stockholm",
        OPERATOR,
        early_release=True,
    )
    assert _state(mini, "ORD-1001")["next_step"] == "calling"
    result = orders.set_up_calling(mini, "ORD-1001", OPERATOR, **STOCKHOLM)

    assert result.state == "complete"
    detail = _state(mini, "ORD-1001")
    assert detail["org_id"] == "org-acme" and detail["decision"] == "accepted"
    # The partner provisions in an org with live licences: Provisioning Administrator.
    assert detail["partner_role"] == "provisioning_administrator"
    meetings = detail["services"]["meetings"]
    assert meetings["state"] == "provisioned"
    assert [(s["name"], s["licences"]) for s in meetings["sites"]] == [
        ("acme-logistik", 200),
        ("acme-lab", 50),
    ]
    assert all(
        s["early_release"] and s["timezone"] == "Europe/Stockholm" for s in meetings["sites"]
    )
    location = detail["services"]["calling"]["location"]
    assert location["name"] == "Stockholm HQ" and location["timezone"] == "Europe/Stockholm"
    assert location["sip_address"]  # pre-filled from the company name
    assert _events(mini, "ORD-1001") == [
        "order.intent",
        "order.map",
        "order.meetings",
        "order.calling",
        "order.complete",
    ]


def test_domain_match_waits_for_the_org_administrators_approval(mini: Database) -> None:
    """ORD-1002: acme.se is claimed by org-acme, so attaching asks its administrator."""
    orders.set_intent(mini, "ORD-1002", "own-company", OPERATOR)
    waiting = orders.map_org(mini, "ORD-1002", "org-acme", OPERATOR)

    assert waiting.state == "awaiting_approval"
    with mini.read() as session:
        approval = session.scalars(select(OrgApproval)).one()
        email = session.scalars(select(OutboxEmail).where(OutboxEmail.kind == "approval")).one()
    assert approval.admin_email == "per.holm@acme.se" == email.recipient  # most recently active
    with pytest.raises(Conflict, match="not approved"):
        orders.configure_later(mini, "ORD-1002", "meetings", OPERATOR)

    assert orders.answer_approval(mini, "ORD-1002", True, OPERATOR).state == "org_mapped"
    assert orders.answer_approval(mini, "ORD-1002", True, OPERATOR).changed is False
    orders.configure_later(mini, "ORD-1002", "meetings", OPERATOR)
    detail = _state(mini, "ORD-1002")
    assert detail["state"] == "org_mapped"
    assert detail["services"]["meetings"]["state"] == "configure_later"
    assert detail["services"]["meetings"]["addon"] is True
    # Configure later is resumable: the service can still be set up.
    orders.set_up_meetings(mini, "ORD-1002", [("acme-sales-meet", 50)], "UTC", OPERATOR)
    assert _state(mini, "ORD-1002")["state"] == "complete"


def test_a_declined_approval_sends_the_order_back_to_the_finder(mini: Database) -> None:
    orders.set_intent(mini, "ORD-1002", "own-company", OPERATOR)
    orders.map_org(mini, "ORD-1002", "org-acme", OPERATOR)
    declined = orders.answer_approval(mini, "ORD-1002", False, OPERATOR, "not ours")
    assert declined.state == "awaiting_org"
    detail = _state(mini, "ORD-1002")
    assert detail["org_id"] is None and detail["approval"]["status"] == "declined"
    assert orders.map_org(mini, "ORD-1002", "org-acme-sales", OPERATOR).state == "org_mapped"
    assert _state(mini, "ORD-1002")["decision"] == "chose_other"


def test_no_match_creates_an_org_and_the_customer_sets_up_its_services(mini: Database) -> None:
    """ORD-1003: a partner's new customer: a new org, then "my customer will set up"."""
    orders.set_intent(mini, "ORD-1003", "customer", OPERATOR)
    created = orders.create_org(mini, "ORD-1003", "Sjöberg Media AB", "media", "se", OPERATOR)
    assert created.state == "org_mapped" and created.detail.startswith("org-")
    with mini.read() as session:
        org = session.get_one(Org, created.detail)
        access = session.get_one(PartnerAccess, (created.detail, "org-fjord"))
    assert (org.name, org.industry, org.country, org.partner_id) == (
        "Sjöberg Media AB",
        "Media",
        "SE",
        "org-fjord",
    )
    assert access.role == "full_administrator"  # a new org has no live licences
    again = orders.create_org(mini, "ORD-1003", "Sjöberg Media AB", "Media", "SE", OPERATOR)
    assert again.changed is False and _count(mini, Org) == 8

    orders.hand_to_customer(mini, "ORD-1003", "vd@sjoberg-media.se", OPERATOR)
    detail = _state(mini, "ORD-1003")
    assert detail["services"]["meetings"]["state"] == "customer_self_setup"
    assert detail["customer_admin_email"] == "vd@sjoberg-media.se"
    assert _count(mini, OutboxEmail, kind="self_setup", recipient="vd@sjoberg-media.se") == 1
    assert detail["decision"] == "created_org" and detail["new_org"] is True


def test_delegated_order_is_completed_by_the_delegate(mini: Database) -> None:
    """ORD-1004: the partner typed its own address; someone else completes it."""
    delegated = orders.set_intent(
        mini, "ORD-1004", "delegate", OPERATOR, email="It.Chef@Nordvik.se"
    )
    assert delegated.state == "delegated"
    assert _count(mini, OutboxEmail, kind="delegate", recipient="it.chef@nordvik.se") == 1
    with pytest.raises(Conflict, match="delegated"):
        orders.map_org(mini, "ORD-1004", "org-nordvik", OPERATOR)
    # The delegate signs in with an account the ordering partner's scope (a partner admin).
    delegate = partner_admin("org-fjord", "it.chef@nordvik.se")
    orders.set_intent(mini, "ORD-1004", "customer", delegate)
    # org-nordvik is managed by the ordering partner: no approval to wait for.
    assert orders.map_org(mini, "ORD-1004", "org-nordvik", delegate).state == "org_mapped"
    orders.set_up_calling(mini, "ORD-1004", delegate, **{**STOCKHOLM, "name": "Nordvik Göteborg"})
    assert _state(mini, "ORD-1004")["state"] == "complete"


def test_trial_conversion_maps_without_approval_for_a_member(mini: Database) -> None:
    """ORD-1005: the provisioning person is a user of the trial org being converted."""
    orders.set_intent(mini, "ORD-1005", "own-company", OPERATOR)
    assert orders.map_org(mini, "ORD-1005", "org-berlin", OPERATOR).state == "org_mapped"
    detail = _state(mini, "ORD-1005")
    assert detail["services"]["meetings"]["trial_conversion"] is True
    orders.configure_later(mini, "ORD-1005", "calling", OPERATOR)
    orders.set_up_meetings(mini, "ORD-1005", [("lichtenwerk", 20)], "Europe/Berlin", OPERATOR)
    assert _state(mini, "ORD-1005")["state"] == "org_mapped"  # calling is not provisioned


def test_forbidden_steps_are_refused_with_what_to_do(mini: Database) -> None:
    with pytest.raises(Conflict, match=r"cannot map an organization now: .*orders intent"):
        orders.map_org(mini, "ORD-1001", "org-acme", OPERATOR)
    orders.set_intent(mini, "ORD-1001", "customer", OPERATOR)
    with pytest.raises(Conflict, match="cannot set up Meetings now: it has no organization yet"):
        orders.set_up_meetings(mini, "ORD-1001", [("acme", 250)], "UTC", OPERATOR)
    orders.map_org(mini, "ORD-1001", "org-acme", OPERATOR)
    with pytest.raises(Conflict, match="unmap"):
        orders.correct_email(mini, "ORD-1001", "new@acme.se", OPERATOR)
    with pytest.raises(Conflict, match="unmap"):
        orders.map_org(mini, "ORD-1001", "org-acme-sales", OPERATOR)
    with pytest.raises(Conflict, match="history"):
        orders.set_intent(mini, "ORD-0901", "customer", OPERATOR)
    with pytest.raises(InvalidInput, match="partner"):
        orders.set_intent(mini, "ORD-1002", "customer", OPERATOR)  # placed without a partner


def test_every_action_is_idempotent(mini: Database) -> None:
    steps = [
        lambda: orders.set_intent(mini, "ORD-1001", "customer", OPERATOR),
        lambda: orders.map_org(mini, "ORD-1001", "org-acme", OPERATOR),
        lambda: orders.configure_later(mini, "ORD-1001", "calling", OPERATOR),
        lambda: orders.set_up_meetings(
            mini, "ORD-1001", [("acme-a", 125), ("acme-b", 125)], "UTC", OPERATOR
        ),
        lambda: orders.set_up_calling(mini, "ORD-1001", OPERATOR, **STOCKHOLM),
    ]
    for step in steps:
        first: ActionResult = step()
        events, mails = _count(mini, AuditEvent), _count(mini, OutboxEmail)
        repeat: ActionResult = step()
        assert first.changed and not repeat.changed, first.action
        assert repeat.state == first.state
        assert (_count(mini, AuditEvent), _count(mini, OutboxEmail)) == (events, mails)
    assert _count(mini, MeetingsSite) == 2 and _count(mini, CallingLocation) == 1


def test_refused_input_changes_nothing_and_names_the_field(mini: Database) -> None:
    orders.set_intent(mini, "ORD-1001", "customer", OPERATOR)
    orders.map_org(mini, "ORD-1001", "org-acme", OPERATOR)
    events = _count(mini, AuditEvent)
    with pytest.raises(InvalidInput) as bad_sum:
        orders.set_up_meetings(
            mini, "ORD-1001", [("acme-a", 200), ("acme-b", 40)], "Mars/Olympus", OPERATOR
        )
    fields = {e.field for e in bad_sum.value.errors}
    assert "licences" in fields and "timezone" in fields  # every reason at once
    assert "250" in str(bad_sum.value)
    with pytest.raises(InvalidInput) as bad_address:
        orders.set_up_calling(mini, "ORD-1001", OPERATOR, **{**STOCKHOLM, "postal_code": "ABC"})
    assert {e.field for e in bad_address.value.errors} == {"postal_code"}
    with pytest.raises(InvalidInput, match="industry"):
        orders.create_org(mini, "ORD-1003", "X", "Alchemy", "SE", OPERATOR)
    with pytest.raises(InvalidInput, match="email"):
        orders.set_intent(mini, "ORD-1004", "delegate", OPERATOR, email="not-an-address")
    assert _count(mini, MeetingsSite) == _count(mini, CallingLocation) == 0
    assert _count(mini, AuditEvent) == events
    assert _state(mini, "ORD-1001")["services"]["meetings"]["state"] == "pending"


def test_a_taken_site_name_is_refused_with_free_suggestions(mini: Database) -> None:
    for order_id in ("ORD-1001", "ORD-1003"):
        orders.set_intent(mini, order_id, "customer", OPERATOR)
    orders.map_org(mini, "ORD-1001", "org-acme", OPERATOR)
    orders.create_org(mini, "ORD-1003", "Sjöberg Media AB", "Media", "SE", OPERATOR)
    orders.set_up_meetings(mini, "ORD-1001", [("sjoberg-media", 250)], "UTC", OPERATOR)

    with pytest.raises(InvalidInput) as taken:
        orders.set_up_meetings(mini, "ORD-1003", [("Sjoberg-Media", 25)], "UTC", OPERATOR)
    error = taken.value.errors[0]
    assert error.field == "site[1].name" and "already taken" in error.reason
    check = orders.check_site_name_available(mini, "sjoberg-media", "Sjöberg Media AB")
    assert not check["free"] and check["suggestions"]
    assert "sjoberg-media" not in check["suggestions"]
    free = check["suggestions"][0]
    assert orders.check_site_name_available(mini, free)["free"]
    orders.set_up_meetings(mini, "ORD-1003", [(free, 25)], "UTC", OPERATOR)


def test_unmap_is_an_audited_reversal_until_services_exist(mini: Database) -> None:
    orders.set_intent(mini, "ORD-1001", "customer", OPERATOR)
    orders.map_org(mini, "ORD-1001", "org-acme", OPERATOR)
    with pytest.raises(InvalidInput, match="reason"):
        orders.unmap(mini, "ORD-1001", " ", OPERATOR)
    assert orders.unmap(mini, "ORD-1001", "wrong customer", OPERATOR).state == "awaiting_org"
    assert _count(mini, PartnerAccess) == 0
    assert _events(mini, "ORD-1001")[-1] == "order.unmap"
    orders.map_org(mini, "ORD-1001", "org-acme", OPERATOR)
    orders.set_up_meetings(mini, "ORD-1001", [("acme-x", 250)], "UTC", OPERATOR)
    with pytest.raises(Conflict, match="cannot be reversed"):
        orders.unmap(mini, "ORD-1001", "too late", OPERATOR)


def test_unmapping_one_order_keeps_the_partners_role_held_through_another(
    mini: Database,
) -> None:
    """ORD-1003 creates Sjöberg's org (the partner gets its role there), ORD-1001 of the same
    partner is mapped to it too; unmapping ORD-1003 must not strip the partner's role."""
    orders.set_intent(mini, "ORD-1003", "customer", OPERATOR)
    orders.create_org(mini, "ORD-1003", "Sjöberg Media AB", "Media", "SE", OPERATOR)
    org_id = _state(mini, "ORD-1003")["org_id"]
    orders.set_intent(mini, "ORD-1001", "customer", OPERATOR)
    assert orders.map_org(mini, "ORD-1001", org_id, OPERATOR).state == "org_mapped"
    orders.unmap(mini, "ORD-1003", "wrong customer", OPERATOR)
    with mini.read() as session:
        held = session.execute(select(PartnerAccess.partner_id, PartnerAccess.order_id)).all()
    assert held == [("org-fjord", "ORD-1001")]
    orders.unmap(mini, "ORD-1001", "wrong customer too", OPERATOR)
    assert _count(mini, PartnerAccess) == 0  # the last order gone: the role ends


def test_before_mapping_the_email_can_be_corrected_and_welcome_resent(mini: Database) -> None:
    same = orders.correct_email(mini, "ORD-1003", "Info@Sjoberg-Media.se", OPERATOR)
    assert same.changed is False  # the same address, only spelled in other case
    orders.correct_email(mini, "ORD-1003", "Info@SjobergMedia.se", OPERATOR)
    assert _state(mini, "ORD-1003")["provisioning_email"] == "info@sjobergmedia.se"
    # The welcome queued on arrival went to the old address: cancelled, never to be sent.
    welcome = {"kind": "welcome", "order_id": "ORD-1003"}
    assert _count(mini, OutboxEmail, **welcome, status="cancelled") == 1
    assert _count(mini, OutboxEmail, **welcome, status="pending") == 1
    assert orders.resend_welcome(mini, "ORD-1003", OPERATOR).changed is False  # still unsent
    with mini.write() as session:
        session.execute(OutboxEmail.__table__.update().values(status="sent"))
    assert orders.resend_welcome(mini, "ORD-1003", OPERATOR).changed is True
    assert _count(mini, OutboxEmail, **welcome) == 3


def test_own_company_new_org_makes_the_provisioner_its_first_user(mini: Database) -> None:
    orders.set_intent(mini, "ORD-1002", "own-company", OPERATOR)
    created = orders.create_org(mini, "ORD-1002", "Acme Logistik", "Transportation", "SE", OPERATOR)
    with mini.read() as session:
        assert session.get_one(Member, "mats.ny@acme.se").org_id == created.detail
        assert session.get(PartnerAccess, (created.detail, "org-fjord")) is None


def test_deadlines_remind_flag_and_expire_once(mini: Database) -> None:
    policy = orders.DeadlinePolicy(days=30, reminders=(7, 3, 1), at_risk=7)
    placed = datetime(2026, 11, 20, 10, tzinfo=UTC)  # ORD-1001
    early = orders.sweep(mini, policy, placed + timedelta(days=10))
    assert early.to_dict() == {"reminded": [], "at_risk": [], "expired": []}

    near = orders.sweep(mini, policy, placed + timedelta(days=24))
    assert "ORD-1001" in near.reminded and "ORD-1001" in near.at_risk
    assert orders.sweep(mini, policy, placed + timedelta(days=24)).reminded == []
    assert _state(mini, "ORD-1001")["at_risk"] is True

    orders.set_intent(mini, "ORD-1005", "own-company", OPERATOR)
    orders.map_org(mini, "ORD-1005", "org-berlin", OPERATOR)
    orders.configure_later(mini, "ORD-1005", "meetings", OPERATOR)
    orders.configure_later(mini, "ORD-1005", "calling", OPERATOR)

    late = orders.sweep(mini, policy, placed + timedelta(days=31))
    assert "ORD-1001" in late.expired
    assert "ORD-1005" not in late.expired  # deferred on purpose: its lines do not lapse
    assert _state(mini, "ORD-1001")["state"] == "expired"
    assert _count(mini, OutboxEmail, kind="expired", order_id="ORD-1001") == 1
    assert "ORD-1001" not in orders.sweep(mini, policy, placed + timedelta(days=40)).expired
    with pytest.raises(Conflict, match="expired"):
        orders.set_intent(mini, "ORD-1001", "customer", OPERATOR)


def test_an_action_refuses_an_order_past_its_deadline_before_any_sweep(
    mini: Database,
) -> None:
    """With the deployment's deadline (30 days), ORD-1001 (placed 20 November) cannot be
    set up on 21 December even though no sweep has expired it; deferred services do not
    hold an order, so ORD-1005 can still be finished; the sweep itself still runs."""
    placed = datetime(2026, 11, 20, 10, tzinfo=UTC)
    before, after = placed + timedelta(days=29), placed + timedelta(days=31)
    checked = Database(mini.url, setup_deadline_days=30)
    try:
        orders.set_intent(checked, "ORD-1001", "customer", OPERATOR, now=before)
        orders.set_intent(checked, "ORD-1005", "own-company", OPERATOR, now=before)
        orders.map_org(checked, "ORD-1005", "org-berlin", OPERATOR, now=before)
        orders.configure_later(checked, "ORD-1005", "meetings", OPERATOR, now=before)
        orders.configure_later(checked, "ORD-1005", "calling", OPERATOR, now=before)
        untouched = _state(mini, "ORD-1001")
        with pytest.raises(Conflict, match="its deadline passed on 2026-12-20"):
            orders.map_org(checked, "ORD-1001", "org-acme", OPERATOR, now=after)
        with pytest.raises(Conflict, match="deadline passed"):
            orders.correct_email(checked, "ORD-1001", "it@acme.se", OPERATOR, now=after)
        assert _state(mini, "ORD-1001") == untouched  # refused: nothing changed
        assert _state(mini, "ORD-1001")["state"] == "awaiting_org"  # no sweep ran yet
        done = orders.set_up_calling(checked, "ORD-1005", OPERATOR, now=after, **STOCKHOLM)
        assert done.changed  # deferred on purpose: its lines did not lapse
        policy = orders.DeadlinePolicy(days=30, reminders=(7, 3, 1), at_risk=7)
        assert "ORD-1001" in orders.sweep(checked, policy, after).expired
    finally:
        checked.dispose()


def test_services_are_listed_in_the_order_summary(mini: Database) -> None:
    with mini.read() as session:
        summary = orders.load_summary(session, "ORD-1001")
    assert [s.service for s in summary.services] == ["meetings", "calling"]
    assert summary.service("meetings").licences == 250
    with mini.read() as session:
        states = session.scalars(
            select(OrderService.state).where(OrderService.order_id == "ORD-1001")
        ).all()
    assert set(states) == {"pending"}


def test_a_half_filled_setup_is_kept_and_resumed(mini: Database) -> None:
    orders.set_intent(mini, "ORD-1001", "customer", OPERATOR)
    orders.map_org(mini, "ORD-1001", "org-acme", OPERATOR)
    draft = {"sites": [["acme-logistik", 200]], "timezone": "Europe/Stockholm"}
    assert orders.save_draft(mini, "ORD-1001", "meetings", draft, OPERATOR).changed
    assert not orders.save_draft(mini, "ORD-1001", "meetings", draft, OPERATOR).changed
    resumed = _state(mini, "ORD-1001")
    assert resumed["next_step"] == "meetings"
    assert resumed["services"]["meetings"]["draft"] == draft
    orders.set_up_meetings(mini, "ORD-1001", [("acme-logistik", 250)], "UTC", OPERATOR)
    assert _state(mini, "ORD-1001")["services"]["meetings"]["draft"] is None  # done: cleared
