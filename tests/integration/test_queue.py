"""The operators' queue, org search and blind reviews on the system of record."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from provisioning import i18n, orders
from provisioning.access import Actor, Role
from provisioning.dataset import import_dataset
from provisioning.db import Database
from provisioning.errors import Conflict
from provisioning.finder import blind_review
from provisioning.finder.answers import refresh_matches
from provisioning.finder.org_search import search_orgs
from provisioning.models import OrderMatch
from provisioning.orders.queue import QueueFilter, queue
from tests.conftest import FIXTURES
from tests.people import OPERATOR

KIM = Actor("kim@example.com", Role.OPERATOR)

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


@pytest.fixture
def mini(db: Database) -> Database:
    import_dataset(db, FIXTURES / "mini", OPERATOR.email)
    return db


def _ids(db: Database, where: QueueFilter = QueueFilter()) -> list[str]:  # noqa: B008
    with db.read() as session:
        return [row.order_id for row in queue(session, where, now=NOW).rows]


def test_scored_queue_puts_ambiguous_matches_first(mini: Database) -> None:
    with mini.read() as session:
        unscored = queue(session, now=NOW)
    assert unscored.total == 5 and unscored.counts["unscored"] == 5
    assert [r.order_id for r in unscored.rows] == [  # oldest first until scored
        "ORD-1001",
        "ORD-1002",
        "ORD-1003",
        "ORD-1004",
        "ORD-1005",
    ]
    assert refresh_matches(mini, NOW) == 5
    assert refresh_matches(mini, NOW) == 0  # already scored by the active model
    with mini.read() as session:
        page = queue(session, now=NOW)
    reviews = [row.review for row in page.rows]
    rank = {"operator": 0, "confirm": 1, "auto": 3}
    assert [rank[r] for r in reviews] == sorted(rank[r] for r in reviews)
    assert page.counts["unscored"] == 0
    assert set(i18n.QUEUE_COUNTS) <= set(page.counts)  # every tile the app labels is counted
    assert sum(page.counts[k] for k in ("needs_operator", "needs_confirmation", "auto")) == 5
    by_id = {row.order_id: row for row in page.rows}
    assert by_id["ORD-1001"].outcome == "exact"
    assert by_id["ORD-1001"].recommended_org_name == "Acme Logistik AB"
    assert by_id["ORD-1003"].recommended_org_id is None  # create a new organization
    assert by_id["ORD-1001"].services == ("meetings", "calling")


def test_teaching_first_offers_the_least_confident_of_each_band_first(mini: Database) -> None:
    refresh_matches(mini, NOW)
    doubt = {"ORD-1001": 0.91, "ORD-1002": 0.62, "ORD-1004": 0.97, "ORD-1005": 0.55}
    with mini.write() as session:
        for order_id, confidence in doubt.items():
            match = session.get_one(OrderMatch, order_id)
            match.confidence, match.review = confidence, "confirm"
        session.get_one(OrderMatch, "ORD-1003").review = "operator"
    # First come, first served within a band by default; the least confident first on request.
    assert _ids(mini) == ["ORD-1003", "ORD-1001", "ORD-1002", "ORD-1004", "ORD-1005"]
    teaching = _ids(mini, QueueFilter(teaching_first=True))
    assert teaching == ["ORD-1003", "ORD-1005", "ORD-1002", "ORD-1001", "ORD-1004"]


def test_filters_and_search(mini: Database) -> None:
    assert _ids(mini, QueueFilter(partner_id="org-fjord")) == ["ORD-1001", "ORD-1003", "ORD-1004"]
    assert _ids(mini, QueueFilter(country="de")) == ["ORD-1005"]
    assert _ids(mini, QueueFilter(service="calling")) == ["ORD-1001", "ORD-1004", "ORD-1005"]
    assert _ids(mini, QueueFilter(search="acme")) == ["ORD-1001", "ORD-1002"]
    assert _ids(mini, QueueFilter(search="ORD-1004")) == ["ORD-1004"]
    assert _ids(mini, QueueFilter(search="max.stein")) == ["ORD-1005"]
    assert _ids(mini, QueueFilter(min_age_days=2)) == [
        "ORD-1001",
        "ORD-1002",
        "ORD-1003",
        "ORD-1004",
    ]
    assert _ids(mini, QueueFilter(max_age_days=1)) == ["ORD-1005"]


def test_decided_and_set_up_orders_leave_the_queue(mini: Database) -> None:
    refresh_matches(mini, NOW)
    orders.set_intent(mini, "ORD-1005", "own-company", OPERATOR, now=NOW)
    orders.map_org(mini, "ORD-1005", "org-berlin", OPERATOR, now=NOW)
    assert "ORD-1005" in _ids(mini, QueueFilter(states=("org_mapped",)))  # services pending
    assert _ids(mini, QueueFilter(search="lichtenwerk"))[0] == "ORD-1005"  # by org name
    orders.configure_later(mini, "ORD-1005", "meetings", OPERATOR, now=NOW)
    orders.configure_later(mini, "ORD-1005", "calling", OPERATOR, now=NOW)
    assert "ORD-1005" not in _ids(mini)
    refresh_matches(mini, NOW, only_missing=False)
    with mini.read() as session:
        assert queue(session, now=NOW).total == 4


def test_org_search_by_id_email_domain_and_name(mini: Database) -> None:
    with mini.read() as session:
        assert [h.org_id for h in search_orgs(session, "org-nordvik")] == ["org-nordvik"]
        by_email = search_orgs(session, "Per.Holm@acme.se")
        by_domain = search_orgs(session, "mail.acme.se")
        by_name = search_orgs(session, "Acme Logistk")  # a typo
        in_norway = search_orgs(session, "acme", country="NO")
    assert by_email[0].org_id == "org-acme" and by_email[0].active_members == 2
    assert {h.org_id for h in by_domain} == {"org-acme", "org-acme-test", "org-acme-sales"}
    assert "acme.se (claimed)" in next(h for h in by_domain if h.org_id == "org-acme").domains
    assert by_name[0].org_id == "org-acme"
    assert in_norway == []


def test_blind_review_is_recorded_once_and_compared(mini: Database) -> None:
    sample = [f"ORD-{n}" for n in range(10_000)]
    share = sum(blind_review.is_blind(order_id) for order_id in sample) / len(sample)
    assert 0.08 < share < 0.12
    assert blind_review.is_blind("ORD-1002") == blind_review.is_blind("ORD-1002")

    assert blind_review.record(mini, "ORD-1002", KIM, "org-acme-sales", NOW)
    assert not blind_review.record(mini, "ORD-1002", KIM, "org-acme", NOW)
    assert blind_review.record(mini, "ORD-1003", KIM, None, NOW)
    with mini.read() as session:
        before = blind_review.agreement(session)
    assert before["reviews"] == 2 and before["decided"] == 0
    assert before["model_agreed"] == 0.5  # ORD-1003: both said "new org"
    orders.set_intent(mini, "ORD-1002", "own-company", OPERATOR, now=NOW)
    orders.map_org(mini, "ORD-1002", "org-acme", OPERATOR, now=NOW)
    with mini.read() as session:
        after = blind_review.agreement(session)
    assert after["decided"] == 1 and after["operators_overridden"] == 1
    assert (after["operator_accuracy"], after["model_accuracy"]) == (0.0, 1.0)
    with pytest.raises(Conflict):
        blind_review.record(mini, "ORD-0901", KIM, None, NOW)  # history


def test_queue_tells_orders_waiting_on_the_customer_from_those_waiting_on_support(
    mini: Database,
) -> None:
    """Fresh orders wait for the contact's answer to the welcome; once support knows who
    an order is for, the org is support's to decide; a delegated one waits again."""
    assert set(_ids(mini, QueueFilter(waiting_on="customer"))) == {
        "ORD-1001",
        "ORD-1002",
        "ORD-1003",
        "ORD-1004",
        "ORD-1005",
    }
    orders.set_intent(mini, "ORD-1001", "own-company", OPERATOR, now=NOW)
    orders.set_intent(mini, "ORD-1002", "delegate", OPERATOR, email="pat@example.org", now=NOW)
    assert _ids(mini, QueueFilter(waiting_on="support")) == ["ORD-1001"]
    with mini.read() as session:
        page = queue(session, now=NOW)
    by_id = {row.order_id: row.waiting_on for row in page.rows}
    assert by_id["ORD-1001"] == "support" and by_id["ORD-1002"] == "customer"
    assert (page.counts["waiting_on_customer"], page.counts["waiting_on_support"]) == (4, 1)
