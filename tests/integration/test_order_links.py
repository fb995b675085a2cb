"""Order links as a credential: one person, one purpose, one order; only a hash is kept;
every refusal looks the same; guessing is slowed down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from provisioning import orders
from provisioning.access import limit_to, links
from provisioning.access.links import LinkRefused
from provisioning.dataset import import_dataset
from provisioning.db import Database
from provisioning.errors import Conflict, Forbidden, NotFound
from provisioning.models import AuditEvent, OrderLink, OrgApproval
from provisioning.states import LinkRole
from tests.conftest import FIXTURES
from tests.people import OPERATOR

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
DEADLINE = NOW + timedelta(days=20)


@pytest.fixture
def mini(db: Database) -> Database:
    import_dataset(db, FIXTURES / "mini", OPERATOR.email)
    return db


def _mint(db: Database, order_id: str, role: LinkRole, email: str, **extra: object) -> str:
    with db.write() as session:
        return links.mint(
            session,
            order_id=order_id,
            role=role,
            email=email,
            expires_at=extra.pop("expires_at", DEADLINE),  # type: ignore[arg-type]
            now=NOW,
            **extra,  # type: ignore[arg-type]
        )


def test_a_link_stands_for_its_person_on_its_one_order(mini: Database) -> None:
    token = _mint(mini, "ORD-1002", LinkRole.CONTACT, "mats.ny@acme.se")
    assert token.startswith(links.TOKEN_PREFIX) and len(token) >= 40  # 256 random bits
    actor = links.resolve(mini, token, "198.51.100.7", now=NOW)
    assert (actor.email, actor.role, actor.order_id) == (
        "mats.ny@acme.se",
        LinkRole.CONTACT,
        "ORD-1002",
    )
    with mini.read() as session:
        stored = session.scalars(select(OrderLink.token_hash)).all()
    assert stored == [links.token_hash(token)] and token not in stored[0]

    # The contact sets its own order up, audited as the contact with its e-mail ...
    orders.set_intent(mini, "ORD-1002", "own-company", actor, now=NOW)
    with mini.read() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "order.intent")).one()
    assert (event.actor, event.role, event.entity_id) == ("mats.ny@acme.se", "contact", "ORD-1002")
    # ... and no other order exists for it.
    with pytest.raises(NotFound):
        orders.set_intent(mini, "ORD-1005", "own-company", actor, now=NOW)
    with mini.read() as session:
        limit_to(session, actor)
        assert orders.load_summary(session, "ORD-1002").order_id == "ORD-1002"
        with pytest.raises(NotFound):
            orders.load_summary(session, "ORD-1005")


def test_wrong_expired_revoked_and_tampered_links_are_refused_alike(mini: Database) -> None:
    good = _mint(mini, "ORD-1002", LinkRole.CONTACT, "mats.ny@acme.se")
    old = _mint(mini, "ORD-1002", LinkRole.CONTACT, "mats.ny@acme.se", expires_at=NOW)
    gone = _mint(mini, "ORD-1005", LinkRole.CONTACT, "max.stein@lichtenwerk.de")
    with mini.write() as session:
        assert links.revoke(session, "ORD-1005", "provisioning e-mail corrected", NOW) == 1
    tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    refusals = []
    for token in ("ol_nothing-like-a-real-token", old, gone, tampered, "", "x" * 500):
        with pytest.raises(LinkRefused) as refused:
            links.resolve(mini, token, "203.0.113.5", now=NOW)
        refusals.append(str(refused.value))
    assert len(set(refusals)) == 1  # nothing tells which cause, or whether the order exists
    assert links.resolve(mini, good, "203.0.113.5", now=NOW).order_id == "ORD-1002"


def test_links_to_an_order_that_moved_on_for_good_are_refused(mini: Database) -> None:
    token = _mint(mini, "ORD-0901", LinkRole.CONTACT, "karin.nilsson@nordvik.se")  # history
    with pytest.raises(LinkRefused):
        links.resolve(mini, token, now=NOW)


def test_repeated_failures_from_one_client_are_slowed_down(mini: Database) -> None:
    good = _mint(mini, "ORD-1002", LinkRole.CONTACT, "mats.ny@acme.se")
    for attempt in range(links.MAX_FAILURES):
        with pytest.raises(LinkRefused) as refused:
            links.resolve(mini, f"ol_guess-{attempt}", "192.0.2.9", now=NOW)
        assert not refused.value.throttled
    with pytest.raises(LinkRefused) as refused:  # even a good link, until the window passes
        links.resolve(mini, good, "192.0.2.9", now=NOW)
    assert refused.value.throttled
    assert links.resolve(mini, good, "192.0.2.10", now=NOW).order_id == "ORD-1002"  # others
    later = NOW + links.FAILURE_WINDOW + timedelta(seconds=1)
    assert links.resolve(mini, good, "192.0.2.9", now=later).order_id == "ORD-1002"


def test_an_approver_answers_only_its_request_and_a_contact_cannot(mini: Database) -> None:
    orders.set_intent(mini, "ORD-1002", "own-company", OPERATOR, now=NOW)
    orders.map_org(mini, "ORD-1002", "org-acme", OPERATOR, now=NOW)  # established: asks
    with mini.read() as session:
        approval = session.scalars(select(OrgApproval)).one()
    approver = links.resolve(
        mini,
        _mint(mini, "ORD-1002", LinkRole.APPROVER, approval.admin_email, approval_id=approval.id),
        now=NOW,
    )
    contact = links.resolve(
        mini, _mint(mini, "ORD-1002", LinkRole.CONTACT, "mats.ny@acme.se"), now=NOW
    )
    with pytest.raises(Forbidden):  # the contact cannot approve its own request
        orders.answer_approval(mini, "ORD-1002", True, contact, now=NOW)
    with pytest.raises(Forbidden):  # the approver cannot change the order
        orders.set_intent(mini, "ORD-1002", "delegate", approver, email="x@example.org", now=NOW)
    result = orders.answer_approval(mini, "ORD-1002", False, approver, reason="not ours", now=NOW)
    assert result.changed and result.state == "awaiting_org"
    with mini.read() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "order.declined")
        ).one()
    assert (event.actor, event.role) == (approval.admin_email, "approver")
    # A later request on the same order is not this link's to answer.
    orders.map_org(mini, "ORD-1002", "org-acme", OPERATOR, now=NOW)
    with pytest.raises(Conflict):
        orders.answer_approval(mini, "ORD-1002", True, approver, now=NOW)
