"""The backlog's SQL aggregates agree with counting the orders one by one, on both
databases, and follow the filters; the notebooks' tables count the same orders."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from provisioning.db import Database
from provisioning.demo.seed import create_demo
from provisioning.demo.world import WorldParams
from provisioning.models import Order, OrderService
from provisioning.orders import DeadlinePolicy, sweep
from provisioning.reports import analysis, backlog

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


@pytest.fixture
def world(db: Database) -> Database:
    create_demo(db, WorldParams(orgs=300, seed=11, now=NOW), "demo@example.com")
    return db


def _orders(db: Database) -> list[Order]:
    with db.read() as session:
        return list(session.scalars(select(Order)))


def _services(db: Database) -> dict[str, set[str]]:
    states: dict[str, set[str]] = {}
    with db.read() as session:
        for order_id, state in session.execute(select(OrderService.order_id, OrderService.state)):
            states.setdefault(order_id, set()).add(state)
    return states


def test_counts_match_the_orders(world: Database) -> None:
    every, services = _orders(world), _services(world)
    with world.read() as session:
        figures = backlog.counts(session, sla_days=14, now=NOW)
    opened = [o for o in every if o.state in backlog.OPEN_STATES]
    assert figures.by_state == dict(sorted(Counter(o.state for o in every).items()))
    assert figures.open == len(opened) > 0
    assert figures.delegated == sum(o.state == "delegated" for o in every) > 0
    mapped = [o for o in every if o.state == "org_mapped"]
    later = sum("configure_later" in services.get(o.order_id, set()) for o in mapped)
    assert figures.configure_later == later > 0
    sla = NOW - timedelta(days=14)
    assert figures.past_sla == sum(o.placed_at < sla for o in opened)
    assert figures.pending + figures.delegated + figures.by_state.get("org_mapped", 0) == (
        figures.open
    )
    on_customer = {"awaiting_intent", "delegated", "awaiting_approval"}
    assert figures.waiting_on_customer == sum(o.state in on_customer for o in every) > 0
    setting_up = sum("pending" in services.get(o.order_id, set()) for o in mapped)
    assert (
        figures.waiting_on_support
        == (sum(o.state == "awaiting_org" for o in every) + setting_up)
        > 0
    )


def test_age_bands_and_trend_cover_every_open_order(world: Database) -> None:
    every = _orders(world)
    with world.read() as session:
        bands = backlog.age_distribution(session, NOW)
        trend = backlog.weekly_trend(session, weeks=8, now=NOW)
        ages = backlog.age_percentiles(session, NOW)
    opened = [o for o in every if o.state in backlog.OPEN_STATES]
    assert sum(r["orders"] for r in bands) == len(opened) == ages["open"]
    young = sum(o.placed_at > NOW - timedelta(days=2) for o in opened)
    assert sum(r["orders"] for r in bands if r["low_days"] == 0) == young
    assert len(trend) == 8 and trend[-1]["week"].weekday() == 0
    first_week = trend[0]["week"]
    placed = sum(o.placed_at >= first_week and o.state != "history" for o in every)
    assert sum(r["opened"] for r in trend) == placed
    assert ages["oldest_days"] >= ages["median_days"] >= 0


def test_breakdowns_and_filters(world: Database) -> None:
    with world.read() as session:
        by_partner = backlog.breakdown(session, "partner")
        by_country = backlog.breakdown(session, "country")
        by_service = backlog.breakdown(session, "service")
        total = backlog.counts(session, 14, NOW).open
        meetings_only = backlog.breakdown(
            session, "service", backlog.BacklogFilter(service="meetings")
        )
        partner = next(r["key"] for r in by_partner if r["key"])
        only = backlog.counts(session, 14, NOW, backlog.BacklogFilter(partner_id=partner))
        with pytest.raises(ValueError, match="unknown breakdown"):
            backlog.breakdown(session, "colour")
    assert sum(r["orders"] for r in by_partner) == total == sum(r["orders"] for r in by_country)
    assert {r["key"] for r in by_service} <= {"meetings", "calling"}
    # Orders having Meetings, broken down by all their services (Calling too).
    with_meetings = sum(r["orders"] for r in by_service if r["key"] == "meetings")
    assert sum(r["orders"] for r in meetings_only if r["key"] == "meetings") == with_meetings
    assert only.open == sum(r["orders"] for r in by_partner if r["key"] == partner) < total
    assert any(r["label"] and r["label"] != r["key"] for r in by_partner)  # partner names


def test_stale_delegated_and_deferred_orders(world: Database) -> None:
    with world.read() as session:
        stale = backlog.stale_orders(session, older_than_days=3, now=NOW)
    assert stale and all(r["idle_days"] >= 3 for r in stale)
    assert {r["state"] for r in stale} <= {"delegated", "org_mapped"}


def test_the_notebooks_tables_count_the_orders_the_backlog_page_counts(world: Database) -> None:
    """Open, past the SLA, at risk, delegated, deferred and stale mean the same orders on
    the Backlog page (`backlog`) and in the notebooks (`analysis`): one definition each."""
    sweep(world, DeadlinePolicy(days=30, reminders=(7, 3, 1), at_risk=20), NOW)  # flags some
    with world.read() as session:
        headline = backlog.counts(session, sla_days=14, now=NOW)
        to_chase = backlog.stale_orders(session, older_than_days=5, now=NOW)
        # No idle time asked: every delegated and deferred order is on the list.
        chase_any = backlog.stale_orders(session, older_than_days=0, now=NOW)
        table = analysis.open_orders(session, NOW, sla_days=14, stale_days=5)
        partners = analysis.partner_backlog(session, sla_days=14, stale_days=5, now=NOW)

    assert len(table) == headline.open == int(partners.open.sum()) > 0
    assert int(table.past_sla.sum()) == headline.past_sla == int(partners.past_sla.sum()) > 0
    assert int(table.at_risk.sum()) == headline.at_risk == int(partners.at_risk.sum()) > 0
    delegated = set(table.order_id[table.state == "delegated"])
    assert len(delegated) == headline.delegated == int(partners.delegated.sum()) > 0

    deferred = set(table.order_id[table.deferred])
    assert {r["order_id"] for r in chase_any} == deferred | delegated
    assert int(partners.deferred.sum()) == len(deferred) >= headline.configure_later > 0
    assert len(deferred) <= headline.configure_later + headline.customer_self_setup

    stale = {r["order_id"] for r in to_chase}
    assert set(table.order_id[table.stale]) == stale
    assert 0 < len(stale) < len(chase_any)  # the idle time decides
    assert int(partners.stale.sum()) == len(stale)
    assert int(partners.stale_delegated.sum()) == len(stale & delegated) > 0
    assert int(partners.stale_deferred.sum()) == len(stale & deferred) > 0
