"""The model in production: each decision keeps what the finder answered then, and the
confident band of the model in use is judged against those decisions since it was
activated (precision, a 90% Wilson interval, the flag). Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from provisioning import finder, orders
from provisioning.cli import cli
from provisioning.dataset import import_dataset
from provisioning.db import Database
from provisioning.finder import watch as model_watch
from provisioning.finder.active import active_version_of
from provisioning.finder.watch import BandStatus
from provisioning.models import ModelVersion, Order
from provisioning.models.base import utcnow
from provisioning.reports.backlog import BacklogFilter, model_work
from provisioning.states import Decision, OrderState
from tests.conftest import FIXTURES
from tests.people import ANALYST, OPERATOR

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


@pytest.fixture
def mini(db: Database) -> Database:
    import_dataset(db, FIXTURES / "mini", OPERATOR.email)
    return db


def _recorded(db: Database, order_id: str) -> tuple:
    with db.read() as session:
        order = session.get_one(Order, order_id)
        return (
            order.recommended_org_id,
            order.recommended_confidence,
            order.recommended_review,
            order.recommended_by_model,
        )


def _shown(db: Database, order_id: str) -> tuple:
    """What the operator was shown just before deciding (the Order page's ranking)."""
    result = finder.match_one(db, order_id)
    return result.recommended_org_id, result.confidence, result.review.value, "default"


def _wilson(right: int, total: int, z: float = 1.6448536269514722) -> tuple[float, float]:
    """The textbook Wilson score interval (z of a two-sided 90% interval)."""
    p = right / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z / (1 + z * z / total) * math.sqrt(p * (1 - p) / total + z * z / (4 * total**2))
    return max(0.0, centre - half), min(1.0, centre + half)


# --- recorded at decision time ----------------------------------------------------------


def test_a_mapping_records_the_answer_shown_and_unmapping_forgets_it(mini: Database) -> None:
    orders.set_intent(mini, "ORD-1001", "customer", OPERATOR)
    shown = _shown(mini, "ORD-1001")
    orders.map_org(mini, "ORD-1001", "org-acme", OPERATOR)
    recorded = _recorded(mini, "ORD-1001")
    assert recorded[0] == shown[0] == "org-acme"
    assert recorded[1] == pytest.approx(shown[1])
    assert recorded[2:] == shown[2:]
    assert recorded[2] in {"auto", "confirm", "operator"}

    orders.unmap(mini, "ORD-1001", "wrong customer", OPERATOR)
    assert _recorded(mini, "ORD-1001") == (None, None, None, None)


def test_a_declined_approval_forgets_the_answer_with_the_decision(mini: Database) -> None:
    orders.set_intent(mini, "ORD-1002", "own-company", OPERATOR)
    orders.map_org(mini, "ORD-1002", "org-acme", OPERATOR)  # waits for the admin
    assert _recorded(mini, "ORD-1002")[3] == "default"
    orders.answer_approval(mini, "ORD-1002", False, OPERATOR, "not ours")
    assert _recorded(mini, "ORD-1002") == (None, None, None, None)


def test_creating_an_org_records_the_answer_given_before_the_org_existed(
    mini: Database,
) -> None:
    """ORD-1002's contact becomes the first member of the org created for it: asked
    afterwards, the finder would "recommend" that very org."""
    orders.set_intent(mini, "ORD-1002", "own-company", OPERATOR)
    shown = _shown(mini, "ORD-1002")
    created = orders.create_org(mini, "ORD-1002", "Acme Logistik", "Transportation", "SE", OPERATOR)
    recorded = _recorded(mini, "ORD-1002")
    assert recorded[0] == shown[0] == "org-acme" != created.detail
    assert recorded[2:] == shown[2:]

    orders.set_intent(mini, "ORD-1003", "customer", OPERATOR)
    orders.create_org(mini, "ORD-1003", "Sjöberg Media AB", "Media", "SE", OPERATOR)
    assert _recorded(mini, "ORD-1003")[0] is None  # "create a new organization": agreed
    with mini.read() as session:
        watch = model_watch.in_production(session)
    by_band = {"auto": 0, "confirm": 0, "operator": 0}
    for order_id in ("ORD-1002", "ORD-1003"):
        by_band[_recorded(mini, order_id)[2]] += 1
    assert watch.decided == 2
    assert (watch.auto_orders, watch.confirm_orders, watch.operator_orders) == tuple(
        by_band.values()
    )
    ord_1003_auto = _recorded(mini, "ORD-1003")[2] == "auto"
    ord_1002_auto = _recorded(mini, "ORD-1002")[2] == "auto"
    assert watch.right == int(ord_1003_auto)  # ORD-1002's operator chose otherwise
    assert watch.auto_orders == int(ord_1003_auto) + int(ord_1002_auto)


# --- the confident band, judged ---------------------------------------------------------


def _decide(
    db: Database,
    review: str,
    right: int,
    wrong: int = 0,
    version: str = "default",
    at: datetime = NOW,
    new_org: bool = False,
) -> None:
    """`right + wrong` decided orders whose recorded answer was in band `review`."""
    with db.write() as session:
        start = len(session.scalars(select(Order.order_id)).all())
        for i in range(right + wrong):
            agreed = i < right
            if new_org:  # the org was created for the order: right when "new" was said
                org, recommended = "org-kari", None if agreed else "org-acme"
            else:
                org, recommended = "org-acme", "org-acme" if agreed else "org-nordvik"
            session.add(
                Order(
                    order_id=f"T-{start + i:05d}",
                    placed_at=at - timedelta(days=1),
                    provisioning_email=f"p{start + i}@example.se",
                    company_name="Crafted AB",
                    state=OrderState.ORG_MAPPED.value,
                    org_id=org,
                    new_org=new_org,
                    decision=(Decision.CREATED_ORG if new_org else Decision.ACCEPTED).value,
                    recommended_org_id=recommended,
                    recommended_confidence=0.999 if review == "auto" else 0.7,
                    recommended_review=review,
                    recommended_by_model=version,
                    decided_by=OPERATOR.email,
                    decided_at=at,
                )
            )


def _watch(db: Database, version: int | str | None = None) -> model_watch.InProduction:
    with db.read() as session:
        return model_watch.in_production(session, version)


def test_too_few_confident_answers_say_so(mini: Database) -> None:
    _decide(mini, "auto", right=29)
    watch = _watch(mini)
    assert (watch.auto_orders, watch.right, watch.precision) == (29, 29, 1.0)
    assert watch.status is BandStatus.TOO_FEW
    assert watch.to_dict()["status"] == "too_few"


def test_a_band_shown_to_be_under_its_target_is_flagged(mini: Database) -> None:
    _decide(mini, "auto", right=95, wrong=5)
    _decide(mini, "confirm", right=40, wrong=10)
    _decide(mini, "operator", right=50)
    watch = _watch(mini)
    low, high = _wilson(95, 100)
    assert (watch.decided, watch.auto_orders, watch.right) == (200, 100, 95)
    assert watch.precision == pytest.approx(0.95)
    assert (watch.low, watch.high) == (pytest.approx(low), pytest.approx(high))
    assert watch.high < watch.target == 0.995
    assert watch.status is BandStatus.BELOW_TARGET and not watch.vouched
    assert watch.share(watch.auto_orders) == 0.5
    assert watch.to_dict()["share_confirm"] == 0.25


def test_a_band_consistent_with_its_target_is_on_target(mini: Database) -> None:
    _decide(mini, "auto", right=150)
    _decide(mini, "auto", right=49, wrong=1, new_org=True)  # "create a new org" was said
    watch = _watch(mini)
    assert (watch.auto_orders, watch.right) == (200, 199)
    low, high = _wilson(199, 200)
    assert (watch.low, watch.high) == (pytest.approx(low), pytest.approx(high))
    assert watch.low < watch.target <= watch.high
    assert watch.status is BandStatus.ON_TARGET and not watch.vouched
    _decide(mini, "auto", right=800)  # a long clean record proves the promise
    assert _watch(mini).vouched


def test_only_decisions_since_activation_by_that_version_count(mini: Database) -> None:
    with mini.write() as session:
        session.add(
            ModelVersion(version=7, created_by=ANALYST.email, artifact=b"unused", is_active=False)
        )
    _decide(mini, "auto", right=5, wrong=5, version="7", at=NOW - timedelta(days=30))
    finder.activate(mini, 7, ANALYST)
    with mini.read() as session:
        activated = session.get_one(ModelVersion, 7).activated_at
    assert activated is not None and utcnow() - activated < timedelta(minutes=1)
    _decide(mini, "auto", right=30, version="7", at=activated)
    _decide(mini, "auto", right=3, wrong=9, version="default", at=activated)  # another model
    watch = _watch(mini)  # the active one: version 7
    assert (watch.version, watch.since) == (7, activated)
    assert (watch.auto_orders, watch.right, watch.status) == (30, 30, BandStatus.ON_TARGET)
    assert _watch(mini, "default").auto_orders == 12

    finder.rollback(mini, "default", ANALYST)
    shipped = _watch(mini)
    assert shipped.version == "default" and shipped.since is not None
    assert shipped.since > activated and shipped.decided == 0  # nothing decided since


def test_a_version_stored_active_records_when(mini: Database) -> None:
    kept = finder.train(mini, ANALYST, now=NOW)  # two past decisions: not activated
    forced = finder.train(mini, ANALYST, now=NOW, force=True)
    with mini.read() as session:
        assert session.get_one(ModelVersion, kept.version).activated_at is None
        assert session.get_one(ModelVersion, forced.version).activated_at is not None
        assert active_version_of(session) == forced.version


# --- where people see it ----------------------------------------------------------------


def test_evaluate_reports_the_band_in_production(mini: Database) -> None:
    _decide(mini, "auto", right=90, wrong=10)
    _decide(mini, "confirm", right=100)
    result = CliRunner().invoke(cli, ["--db", mini.url, "evaluate", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"version", "orders", "metrics", "coverage", "thresholds"} <= set(report)
    watch = report["in_production"]
    assert watch == _watch(mini).to_dict()
    assert (watch["version"], watch["since"], watch["auto_orders"], watch["right"]) == (
        "default",
        None,
        100,
        90,
    )
    assert (watch["status"], watch["target"], watch["share_auto"]) == ("below_target", 0.995, 0.5)
    assert watch["low"] < watch["precision"] == 0.9 < watch["high"] < 0.995

    table = CliRunner().invoke(cli, ["--db", mini.url, "evaluate"])
    assert table.exit_code == 0, table.output
    assert "in production (version default" in table.stdout
    assert "90 of 100 agreed with the decision, precision 90.0%" in table.stdout
    assert "WARNING: the confident band is below its 99.5% target" in table.stdout


def test_evaluate_says_when_there_are_too_few(mini: Database) -> None:
    _decide(mini, "auto", right=12)
    table = CliRunner().invoke(cli, ["--db", mini.url, "evaluate"])
    assert "too few confident answers decided to judge the band (12 of the 30 needed)" in (
        table.stdout
    )
    assert "WARNING" not in table.stdout


def test_the_backlog_counts_the_work_the_model_took_per_week(mini: Database) -> None:
    _decide(mini, "auto", right=6, at=NOW - timedelta(days=1))
    _decide(mini, "confirm", right=2, at=NOW - timedelta(days=1))
    _decide(mini, "operator", right=2, at=NOW - timedelta(days=8))
    _decide(mini, "auto", right=4, at=NOW - timedelta(days=200))  # long before the period
    with mini.write() as session:  # a decision from before answers were recorded
        session.get_one(Order, "ORD-1004").decision = Decision.ACCEPTED.value
        session.get_one(Order, "ORD-1004").org_id = "org-nordvik"
        session.get_one(Order, "ORD-1004").decided_at = NOW - timedelta(days=1)
    with mini.read() as session:
        work = model_work(session, 12, NOW)
        partner = model_work(session, 12, NOW, BacklogFilter(partner_id="org-fjord"))
    assert (work.auto, work.confirm, work.operator, work.unrecorded) == (6, 2, 2, 1)
    assert work.share(work.auto) == 0.6
    assert len(work.weeks) == 12
    assert (work.weeks[-1]["auto"], work.weeks[-1]["confirm"]) == (6, 2)
    assert work.weeks[-2]["operator"] == 2
    assert (partner.answered, partner.unrecorded) == (0, 1)  # ORD-1004 is org-fjord's
