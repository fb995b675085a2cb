"""Two operators, one order, the same moment: exactly one wins, the other gets a clear
conflict, and nothing is half-written. Real threads on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from provisioning import orders
from provisioning.access import Actor, Role
from provisioning.dataset import import_dataset
from provisioning.db import Database
from provisioning.errors import Conflict, InvalidInput, ProvisioningError
from provisioning.models import AuditEvent, MeetingsSite, Order, Org
from tests.conftest import FIXTURES
from tests.people import OPERATOR

ANNA, BO = OPERATOR, Actor("bo@example.com", Role.OPERATOR)

pytestmark = pytest.mark.db


def _race(*actions: Callable[[], object]) -> list[object]:
    """Start every action at once; each result is a return value or the error raised."""
    barrier = threading.Barrier(len(actions))
    results: list[object] = [None] * len(actions)

    def run(i: int, action: Callable[[], object]) -> None:
        barrier.wait()
        try:
            results[i] = action()
        except ProvisioningError as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.fixture
def mini(db: Database) -> Database:
    import_dataset(db, FIXTURES / "mini", "importer@example.com")
    return db


def test_two_operators_map_one_order_to_different_orgs(mini: Database) -> None:
    orders.set_intent(mini, "ORD-1001", "customer", ANNA)
    results = _race(
        lambda: orders.map_org(mini, "ORD-1001", "org-acme", ANNA),
        lambda: orders.map_org(mini, "ORD-1001", "org-acme-sales", BO),
    )
    winners = [r for r in results if isinstance(r, orders.ActionResult)]
    losers = [r for r in results if isinstance(r, Conflict)]
    assert len(winners) == 1 and len(losers) == 1, results
    with mini.read() as session:
        order = session.get_one(Order, "ORD-1001")
        maps = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "order.map", AuditEvent.entity_id == "ORD-1001")
        )
    assert maps == 1
    assert order.decided_by == (ANNA if results[0] is winners[0] else BO).email


def test_two_operators_create_an_org_for_one_order(mini: Database) -> None:
    orders.set_intent(mini, "ORD-1003", "customer", ANNA)
    results = _race(
        lambda: orders.create_org(mini, "ORD-1003", "Sjöberg Media AB", "Media", "SE", ANNA),
        lambda: orders.create_org(mini, "ORD-1003", "Sjoberg Media", "Media", "SE", BO),
    )
    assert sum(isinstance(r, orders.ActionResult) for r in results) == 1, results
    assert sum(isinstance(r, Conflict) for r in results) == 1, results
    with mini.read() as session:
        created = session.scalar(select(func.count()).select_from(Org).where(Org.name.like("Sj%")))
    assert created == 1  # the loser's org was rolled back with its transaction


def test_the_same_action_twice_at_once_is_done_once(mini: Database) -> None:
    orders.set_intent(mini, "ORD-1005", "own-company", ANNA)
    orders.map_org(mini, "ORD-1005", "org-berlin", ANNA)
    results = _race(
        *[
            (
                lambda: orders.set_up_meetings(
                    mini, "ORD-1005", [("lichtenwerk", 20)], "Europe/Berlin", ANNA
                )
            )
            for _ in range(2)
        ]
    )
    # Serialised by the order's lock: the second one finds it done (or, on a lost race,
    # a conflict); never two sets of sites.
    assert all(isinstance(r, orders.ActionResult | Conflict) for r in results), results
    assert sum(isinstance(r, orders.ActionResult) and r.changed for r in results) == 1
    with mini.read() as session:
        assert session.scalar(select(func.count()).select_from(MeetingsSite)) == 1


def test_two_orders_claim_one_site_name(mini: Database) -> None:
    orders.set_intent(mini, "ORD-1001", "customer", ANNA)
    orders.map_org(mini, "ORD-1001", "org-acme", ANNA)
    orders.set_intent(mini, "ORD-1005", "own-company", BO)
    orders.map_org(mini, "ORD-1005", "org-berlin", BO)
    results = _race(
        lambda: orders.set_up_meetings(mini, "ORD-1001", [("shared", 250)], "UTC", ANNA),
        lambda: orders.set_up_meetings(mini, "ORD-1005", [("shared", 20)], "UTC", BO),
    )
    assert sum(isinstance(r, orders.ActionResult) for r in results) == 1, results
    refused = [r for r in results if isinstance(r, InvalidInput)]
    assert len(refused) == 1 and "site" in refused[0].errors[0].field
    with mini.read() as session:
        assert session.scalars(select(MeetingsSite.name)).all() == ["shared"]
