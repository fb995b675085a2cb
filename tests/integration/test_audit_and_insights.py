"""The audit trail as the Audit page reads it, and the matching diagnostics the Matching
page shows: filters, paging and diffs on both databases; calibration, curves, the
threshold what-if and the history's misses agreeing with `onboard evaluate`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from matching.candidates import find_candidates
from matching.evaluation import Prediction, precision_recall_points, reliability_curve
from matching.scorer import Thresholds
from provisioning import audit, finder
from provisioning.access import Actor, Role
from provisioning.dataset import import_dataset
from provisioning.db import Database
from provisioning.demo.seed import create_demo
from provisioning.demo.world import WorldParams
from provisioning.errors import InvalidInput, NotFound
from provisioning.finder import diagnostics
from provisioning.finder.source import SqlCandidateSource
from provisioning.models import AuditEvent, Order
from provisioning.states import LinkRole
from tests.conftest import FIXTURES
from tests.people import MANAGER

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
ANNA, BO = "anna@example.com", "bo@example.com"


# --- audit ----------------------------------------------------------------------------


@pytest.fixture
def trail(db: Database) -> Database:
    """60 events over three days: Anna maps orders ORD-1..ORD-50 on 1–2 March, Bo trains
    two model versions and delegates ORD-7 on 3 March."""
    events = []
    for n in range(1, 51):
        events.append(
            AuditEvent(
                at=datetime(2026, 3, 1, 0, 30, tzinfo=UTC) + timedelta(minutes=50 * n),
                actor=ANNA,
                action="order.map",
                entity_type="order",
                entity_id=f"ORD-{n}",
                before={"state": "awaiting_org", "org_id": None},
                after={"state": "org_mapped", "org_id": f"org-{n}"},
            )
        )
    for version in (1, 2):
        events.append(
            AuditEvent(
                at=datetime(2026, 3, 3, 9, version, tzinfo=UTC),
                actor=BO,
                action="model.train",
                entity_type="model_version",
                entity_id=str(version),
                after={"activated": version == 2},
            )
        )
    events.append(
        AuditEvent(
            at=datetime(2026, 3, 3, 23, 59, tzinfo=UTC),
            actor=BO,
            action="order.delegate",
            entity_type="order",
            entity_id="ORD-7",
            before={"state": "awaiting_intent"},
            after={"state": "delegated", "delegate_email": "=HYPERLINK(1)"},
        )
    )
    with db.write() as session:
        session.add_all(events)
    return db


def test_events_come_newest_first_fifty_to_a_page(trail: Database) -> None:
    first = audit.list_events(trail, viewer=MANAGER)
    assert (first.total, first.pages, first.page, len(first.entries)) == (53, 2, 1, 50)
    assert first.entries[0].action == "order.delegate"  # 3 March, 23:59: the newest
    assert [e.at for e in first.entries] == sorted((e.at for e in first.entries), reverse=True)
    second = audit.list_events(trail, page=2, viewer=MANAGER)
    assert [e.entity_id for e in second.entries] == ["ORD-3", "ORD-2", "ORD-1"]
    assert audit.list_events(trail, page=9, viewer=MANAGER).page == 2  # past the end: the last page


def test_filters_narrow_the_trail(trail: Database) -> None:
    def ids(**where: object) -> list[str]:
        return [
            e.entity_id
            for e in audit.export_events(trail, audit.AuditFilter(**where), viewer=MANAGER)
        ]

    assert ids(actor=BO) == ["ORD-7", "2", "1"]
    assert ids(action="model.train") == ["2", "1"]
    assert ids(entity_type="model_version", actor=ANNA) == []
    # A search, not an exact id: "ord-4" finds ORD-4 and ORD-40..49, whatever the case.
    assert sorted(ids(entity="ord-4")) == sorted(["ORD-4", *(f"ORD-{n}" for n in range(40, 50))])
    assert ids(entity="ORD-%") == []  # SQL wildcards are searched for literally
    # Whole UTC days, both ends included: 3 March catches the event at 23:59.
    assert ids(since=date(2026, 3, 3), until=date(2026, 3, 3)) == ["ORD-7", "2", "1"]
    assert len(ids(until=date(2026, 3, 1))) == 28  # ORD-1 at 01:20 .. ORD-28 at 23:50
    with pytest.raises(InvalidInput) as refused:
        audit.list_events(
            trail,
            audit.AuditFilter(since=date(2026, 3, 3), until=date(2026, 3, 1)),
            viewer=MANAGER,
        )
    assert [e.field for e in refused.value.errors] == ["until"]


def test_choices_and_changes_read_as_a_person_wants(trail: Database) -> None:
    choices = audit.choices(trail, MANAGER)
    assert choices.actors == [ANNA, BO]
    assert choices.actions == ["model.train", "order.delegate", "order.map"]
    assert choices.entity_types == ["model_version", "order"]
    delegated = audit.list_events(trail, audit.AuditFilter(entity="ORD-7"), viewer=MANAGER).entries
    assert [(c.field, c.before, c.after) for c in delegated[0].changes] == [
        ("state", "awaiting_intent", "delegated"),
        ("delegate_email", None, "=HYPERLINK(1)"),
    ]
    trained = audit.list_events(
        trail, audit.AuditFilter(action="model.train"), viewer=MANAGER
    ).entries[0]
    assert [(c.field, audit.compact(c.before), c.after) for c in trained.changes] == [
        ("activated", "—", True)
    ]
    assert audit.compact({"b": 1, "a": [1, 2]}) == '{"a": [1, 2], "b": 1}'


def test_every_recorded_action_and_record_type_has_a_label() -> None:
    from provisioning.orders.workflow import Action

    recorded = {a.value for a in Action} | {
        "model.train",
        "model.activate",
        "outbox.retry",
        "outbox.requeue",
        "dataset.import",
        "demo.generate",
        "model.publish",
        "model.rollback",
        *(f"account.{verb}" for verb in ("add", "disable", "enable", "password", "locked")),
        "finder.scored",
    }
    assert recorded <= set(audit.ACTIONS)
    entities = {"order", "model_version", "outbox_email", "dataset", "account"}
    assert entities == set(audit.ENTITY_TYPES)
    people = {role.value for role in Role} | {role.value for role in LinkRole}
    assert people | {"system"} == set(audit.ROLES)


# --- matching diagnostics -------------------------------------------------------------


def _prediction(confidence: float, correct: bool) -> Prediction:
    return Prediction("org-a", "org-a" if correct else "org-b", ("org-a",), confidence)


def test_reliability_bins_state_confidence_against_accuracy() -> None:
    predictions = [
        _prediction(0.95, True),
        _prediction(0.92, False),
        _prediction(0.55, True),
        _prediction(1.0, True),
    ]
    bins = reliability_curve(predictions, bins=10)
    assert [(b["low"], b["orders"]) for b in bins] == [(0.5, 1.0), (0.9, 3.0)]
    assert bins[1]["accuracy"] == pytest.approx(2 / 3)
    assert bins[1]["confidence"] == pytest.approx((0.95 + 0.92 + 1.0) / 3)


def test_precision_recall_points_walk_down_the_confidences() -> None:
    predictions = [_prediction(c, ok) for c, ok in [(0.9, True), (0.8, False), (0.8, True)]]
    predictions.append(_prediction(0.3, True))
    points = precision_recall_points(predictions)
    assert [(p["threshold"], p["orders"]) for p in points] == [(0.9, 1.0), (0.8, 3.0), (0.3, 4.0)]
    assert [p["precision"] for p in points] == pytest.approx([1.0, 2 / 3, 3 / 4])
    assert [p["recall"] for p in points] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert points[-1]["coverage"] == 1.0
    many = [_prediction(i / 1000, True) for i in range(1000)]
    thinned = precision_recall_points(many, max_points=50)
    assert len(thinned) == 50 and thinned[-1]["coverage"] == 1.0


@pytest.fixture
def mini(db: Database) -> Database:
    """The mini dataset: two past decisions (ORD-0901 → org-nordvik, ORD-0902 → new)."""
    import_dataset(db, FIXTURES / "mini", ANNA)
    return db


@pytest.fixture
def misled(mini: Database) -> Database:
    """The past decision for ORD-0901 rewritten to an org the finder has no evidence for:
    the model's (evidence-backed) answer is now a miss."""
    db = mini
    with db.write() as session:
        session.execute(update(Order).where(Order.order_id == "ORD-0901").values(org_id="org-acme"))
    return db


def test_diagnostics_agree_with_evaluate_and_explain_the_miss(misled: Database) -> None:
    report = diagnostics.diagnostics(misled, now=NOW)
    evaluated = finder.evaluate(misled, now=NOW)

    assert report.version == evaluated["version"] == finder.DEFAULT_VERSION
    assert report.orders == evaluated["orders"] == 2
    assert report.metrics == pytest.approx(evaluated["metrics"]["model"])
    # ORD-0901 is the miss the fixture makes; whether the model also answers ORD-0902 (its
    # contact is a member of a running trial) with that trial depends on the model.
    assert report.misses_total == report.metrics["errors"] == len(report.misses) >= 1
    (miss,) = [m for m in report.misses if m.order_id == "ORD-0901"]
    assert (miss.order_id, miss.company_name) == ("ORD-0901", "Nordvik Bygg AB")
    assert (miss.decided_org_id, miss.decided_org_name) == ("org-acme", "Acme Logistik AB")
    assert (miss.predicted_org_id, miss.predicted_org_name) == ("org-nordvik", "Nordvik Bygg AB")
    assert miss.decided_rank is None  # the decided org was not even a candidate
    assert any("nordvik.se" in said for said in miss.evidence)
    assert miss.review == report.thresholds.review_for(miss.confidence).value

    assert sum(b["orders"] for b in report.reliability) == 2
    assert report.curve[-1]["coverage"] == 1.0
    assert report.curve[-1]["precision"] == pytest.approx(report.metrics["accuracy"])

    thresholds = report.thresholds
    effect = diagnostics.what_if(report.predictions, thresholds.auto, thresholds.review)
    assert {k: effect[k] for k in evaluated["thresholds_effect"]} == pytest.approx(
        evaluated["thresholds_effect"]
    )
    assert effect["orders"] == 2
    everything = diagnostics.what_if(report.predictions, 0.0, 0.0)
    assert (everything["auto_share"], everything["auto_orders"]) == (1.0, 2.0)
    assert everything["auto_precision"] == pytest.approx(report.metrics["accuracy"])
    # Everything applied: every right answer is applied (none, when the model got both wrong).
    assert (
        everything["auto_recall"]
        == everything["offered_recall"]
        == (1.0 if report.metrics["accuracy"] else 0.0)
    )
    with pytest.raises(InvalidInput):
        diagnostics.what_if(report.predictions, auto=0.5, review=0.9)


def test_versions_list_their_held_out_metrics_and_any_can_be_measured(mini: Database) -> None:
    assert finder.model_versions(mini) == []
    finder.train(
        mini,
        Actor(ANNA, Role.ANALYST),
        force=True,
        thresholds=Thresholds(auto=0.9, review=0.4),
        now=NOW,
    )
    finder.train(mini, Actor(BO, Role.ANALYST), now=NOW)  # in-sample: stored, not activated

    second, first = finder.model_versions(mini)
    assert (first.version, first.active, first.created_by) == (1, True, ANNA)
    assert (second.version, second.active) == (2, False)
    assert first.thresholds == {"auto": 0.9, "review": 0.4}
    assert first.trained_on == 2 and first.held_out_orders == 2
    assert set(first.held_out) == set(finder.HELD_OUT_METRICS)
    assert first.held_out["accuracy"] is not None

    active = diagnostics.diagnostics(mini, now=NOW)
    assert active.version == 1 and active.thresholds == Thresholds(auto=0.9, review=0.4)
    assert diagnostics.diagnostics(mini, 2, now=NOW).version == 2
    assert diagnostics.diagnostics(mini, "default", now=NOW).version == finder.DEFAULT_VERSION
    with pytest.raises(NotFound):
        diagnostics.diagnostics(mini, 99, now=NOW)


def test_the_batched_history_is_the_finders_history(db: Database) -> None:
    """`labelled_orders` prefetches a batch's look-ups; the examples must be exactly those
    of finding each decided order's candidates on its own."""
    create_demo(db, WorldParams(orgs=200, seed=3, now=NOW), ANNA)
    with db.read() as session:
        batched = finder.labelled_orders(session, NOW)
        source = SqlCandidateSource(session)
        decided = session.scalars(
            select(Order).where(Order.decision.is_not(None)).order_by(Order.order_id)
        ).all()
        alone = {o.order_id: find_candidates(finder.order_query(o), source) for o in decided}
        created = {o.order_id: o.org_id for o in decided if o.new_org}
    assert [e.found.order.order_id for e in batched] == [o.order_id for o in decided]
    assert len(batched) > 20
    for example in batched:
        order_id = example.found.order.order_id
        expected = [c for c in alone[order_id].candidates if c.org_id != created.get(order_id)]
        assert example.found.candidates == expected, order_id


def test_a_fresh_desk_has_nothing_to_measure(db: Database) -> None:
    report = diagnostics.diagnostics(db, now=NOW)
    assert (report.orders, report.metrics, report.misses, report.curve) == (0, {}, [], [])
    assert report.reliability == [] and report.predictions == ()
    assert audit.list_events(db, viewer=MANAGER).total == 0
    assert audit.choices(db, MANAGER) == audit.AuditChoices([], [], [])
