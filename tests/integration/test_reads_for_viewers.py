"""Every read the app makes is a service that takes the viewer and checks the permission
itself, so the CLI and the notebooks get the same refusals and the same partner scoping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from provisioning.access import Actor
from provisioning.dataset import import_dataset
from provisioning.db import Database
from provisioning.errors import Forbidden, NotFound
from provisioning.finder import blind_review, org_search
from provisioning.finder import watch as model_watch
from provisioning.orders import queue
from provisioning.orders.read import order_view_for, summary_for
from provisioning.reports import backlog
from tests.conftest import FIXTURES
from tests.people import ADMIN, MANAGER, OPERATOR, partner_admin

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
FJORD = partner_admin("org-fjord")

READS: dict[str, Callable[[Database, Actor], Any]] = {
    "queue": lambda db, v: queue.queue_for(db, v, now=NOW),
    "queue choices": queue.choices_for,
    "order": lambda db, v: order_view_for(db, v, "ORD-1001", 30, NOW),
    "order summary": lambda db, v: summary_for(db, v, "ORD-1001", NOW),
    "org search": lambda db, v: org_search.search_for(db, v, "Acme"),
    "blind pick": lambda db, v: blind_review.pick_made_for(db, v, "ORD-1001"),
    "blind agreement": blind_review.agreement_for,
    "in production": model_watch.in_production_for,
    "backlog": lambda db, v: backlog.view_for(db, v, 30, 7, now=NOW),
    "backlog choices": backlog.choices_for,
}


@pytest.fixture
def mini(db: Database) -> Database:
    import_dataset(db, FIXTURES / "mini", OPERATOR.email)
    return db


@pytest.mark.parametrize("read", sorted(READS))
def test_a_viewer_without_the_right_is_refused_by_the_service(mini: Database, read: str) -> None:
    with pytest.raises(Forbidden):  # an accounts administrator reads neither orders nor models
        READS[read](mini, ADMIN)


def test_each_read_answers_the_viewers_it_is_for(mini: Database) -> None:
    for name in ("queue", "order", "org search", "backlog"):
        assert READS[name](mini, OPERATOR) is not None, name
    for name in ("blind agreement", "in production", "backlog"):
        assert READS[name](mini, MANAGER) is not None, name
    with pytest.raises(Forbidden):
        READS["in production"](mini, OPERATOR)  # operators do not read the models


def test_a_partner_admin_reads_its_own_customers_only(mini: Database) -> None:
    mine = {row.order_id for row in queue.queue_for(mini, FJORD, now=NOW).rows}
    everyone = {row.order_id for row in queue.queue_for(mini, OPERATOR, now=NOW).rows}
    assert mine and mine < everyone and "ORD-1002" not in mine  # ORD-1002 has no partner
    assert order_view_for(mini, FJORD, "ORD-1001", 30, NOW).order_id == "ORD-1001"
    with pytest.raises(NotFound):
        order_view_for(mini, FJORD, "ORD-1002", 30, NOW)
    with pytest.raises(Forbidden):  # partner admins are not granted the backlog
        backlog.view_for(mini, FJORD, 30, 7, now=NOW)
    searched = {hit.org_id for hit in org_search.search_for(mini, FJORD, "Acme")}
    assert "org-acme" in searched and "org-acme-sales" not in searched  # not Fjord's
