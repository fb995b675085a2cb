"""Publishing a model fitted outside `train` (the analysts' notebooks) and rolling back, on
both databases; the training tools the notebooks use (grouped cross-validation, any
classifier, threshold picking); and the notebooks' tables agreeing with the records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.ensemble import GradientBoostingClassifier
from sqlalchemy import distinct, func, select

from matching.evaluation import LabelledOrder, Prediction, metrics
from matching.features import FEATURE_NAMES
from matching.matcher import match_order, outcome_of
from matching.scorer import Model, Thresholds, make_pipeline
from matching.training import (
    ClassifierModel,
    cross_validate,
    estimator_params,
    examples,
    fit,
    fit_model,
    grouped_examples,
    pick_thresholds,
    precision_bound,
)
from provisioning import finder
from provisioning.cli import cli
from provisioning.dataset import import_dataset
from provisioning.db import Database
from provisioning.demo.seed import create_demo
from provisioning.demo.world import WorldParams
from provisioning.errors import InvalidInput, NotFound
from provisioning.finder.source import SqlCandidateSource
from provisioning.models import AuditEvent, Member, ModelVersion, Order, OrgDomain
from provisioning.models.base import utcnow
from provisioning.reports import analysis, backlog
from tests.conftest import FIXTURES, private_postgres_schema
from tests.people import ANALYST

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
ACTOR = ANALYST
WORLD = WorldParams(orgs=200, seed=4, now=NOW, orders_per_100_orgs=40.0, history_share=0.7)
EVIDENCE = {"held_out": {"accuracy": np.float64(0.97), "orders": 40.0}, "per_fold": [0.9, 1.0]}
PROBE = np.vstack([np.zeros(len(FEATURE_NAMES)), np.ones(len(FEATURE_NAMES))])


def _demo(url: str) -> Database:
    db = Database(url)
    db.ensure_schema()
    create_demo(db, WORLD, "demo@example.com")
    return db


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """One demo world per backend, shared by the read-only tests of this module."""
    if request.param == "sqlite":
        db = _demo(f"sqlite:///{tmp_path_factory.mktemp('world') / 'world.sqlite'}")
        yield db
        db.dispose()
        return
    with private_postgres_schema() as url:
        db = _demo(url)
        yield db
        db.dispose()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> list[LabelledOrder]:
    """The decided orders of the demo world (plain objects: no database needed after)."""
    db = _demo(f"sqlite:///{tmp_path_factory.mktemp('history') / 'history.sqlite'}")
    with db.read() as session:
        orders = finder.labelled_orders(session, NOW)
    db.dispose()
    return orders


@pytest.fixture(scope="module")
def fitted(history: list[LabelledOrder]) -> Model:
    return fit_model(history, make_pipeline(C=0.5), Thresholds(auto=0.9, review=0.5))


# --- publish and rollback ------------------------------------------------------------


def test_publish_stores_activates_audits_and_match_uses_it(db: Database, fitted: Model) -> None:
    import_dataset(db, FIXTURES / "mini", ACTOR.email)
    assert finder.active_version(db) == finder.DEFAULT_VERSION

    version = finder.publish(db, fitted, ACTOR, EVIDENCE, {"C": 0.5, "orders": 10})

    assert version == 1 and finder.active_version(db) == 1
    [listed] = finder.list_models(db)
    assert listed["accuracy"] == 0.97 and listed["thresholds"] == {"auto": 0.9, "review": 0.5}
    with db.read() as session:
        served = finder.active_model(session)
        row = session.get_one(ModelVersion, version)
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "model.publish")
        ).one()
    assert served.version == 1
    assert np.allclose(
        served.model.independent_probabilities(PROBE), fitted.independent_probabilities(PROBE)
    )
    assert (
        served.model.none_bias == fitted.none_bias and served.model.thresholds == fitted.thresholds
    )
    assert row.params["C"] == 0.5 and row.params["settings"]["none_bias"] == fitted.none_bias
    assert row.metrics["per_fold"] == [0.9, 1.0] and row.created_by == ACTOR.email
    assert event.before == {"active": finder.DEFAULT_VERSION} and event.after["activated"]

    # `onboard match` ranks with the published model from its next run on.
    result = CliRunner().invoke(cli, ["--db", db.url, "match", "--all", "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    now = utcnow()
    with db.read() as session:
        source = SqlCandidateSource(session)
        for line in map(json.loads, result.stdout.splitlines()):
            order = session.get_one(Order, line["order_id"])
            expected = match_order(finder.order_query(order), source, fitted, now)
            assert line["recommended_org_id"] == expected.recommended_org_id
            assert line["confidence"] == pytest.approx(expected.confidence, abs=1e-3)
            assert line["review"] == expected.review.value


def test_publish_without_activating_leaves_the_active_version(db: Database, fitted: Model) -> None:
    first = finder.publish(db, fitted, ACTOR, EVIDENCE)
    second = finder.publish(db, fitted, ACTOR, EVIDENCE, activate=False)
    assert (first, second) == (1, 2)
    assert finder.active_version(db) == 1
    assert [m["active"] for m in finder.list_models(db)] == [True, False]
    assert finder.activate(db, second, ACTOR) is True
    assert finder.active_version(db) == 2


def test_publish_refuses_what_the_app_could_not_use_and_writes_nothing(
    db: Database, fitted: Model, history: list[LabelledOrder]
) -> None:
    boosted = fit_model(history, GradientBoostingClassifier(n_estimators=10, random_state=0))
    assert isinstance(boosted, ClassifierModel)
    with pytest.raises(InvalidInput, match="only the scorer pipeline"):
        finder.publish(db, boosted, ACTOR, EVIDENCE)
    with pytest.raises(InvalidInput, match=r"held_out\.accuracy"):
        finder.publish(db, fitted, ACTOR, {"accuracy": 0.9})
    with pytest.raises(InvalidInput, match=r"held_out\.accuracy"):
        finder.publish(db, fitted, ACTOR, {"held_out": {"accuracy": 1.5}})
    with pytest.raises(InvalidInput, match="reserved") as both:
        finder.publish(db, fitted, ACTOR, {"held_out": {}}, {"settings": {}})
    assert len(both.value.errors) == 2  # every reason at once
    with pytest.raises(InvalidInput, match="plain JSON"):
        finder.publish(db, fitted, ACTOR, {**EVIDENCE, "when": datetime.now(UTC)})
    with pytest.raises(InvalidInput, match="plain JSON"):
        finder.publish(db, fitted, ACTOR, {"held_out": {"accuracy": float("nan")}})
    assert finder.list_models(db) == []
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_rollback_to_a_version_or_to_the_shipped_model(db: Database, fitted: Model) -> None:
    one = finder.publish(db, fitted, ACTOR, EVIDENCE)
    two = finder.publish(db, fitted, ACTOR, EVIDENCE)
    assert finder.active_version(db) == two

    assert finder.rollback(db, one, ACTOR) is True
    assert finder.active_version(db) == one
    assert finder.rollback(db, str(one), ACTOR) is False  # already active: nothing changes
    assert finder.rollback(db, finder.DEFAULT_VERSION, ACTOR) is True
    assert finder.active_version(db) == finder.DEFAULT_VERSION
    assert not any(m["active"] for m in finder.list_models(db))
    with db.read() as session:
        assert finder.active_model(session).version == finder.DEFAULT_VERSION
    assert finder.rollback(db, finder.DEFAULT_VERSION, ACTOR) is False
    with pytest.raises(NotFound):
        finder.rollback(db, 99, ACTOR)
    with pytest.raises(InvalidInput, match="a version number"):
        finder.rollback(db, "latest", ACTOR)

    with db.read() as session:
        trail = analysis.model_history(session)
    assert list(trail.action) == ["model.publish"] * 2 + ["model.rollback"] * 2
    assert trail.before.tolist()[2:] == [{"active": [two]}, {"active": [one]}]
    assert trail.after.tolist()[2:] == [{"active": one}, {"active": finder.DEFAULT_VERSION}]


# --- the training tools --------------------------------------------------------------


def test_fit_model_with_the_scorer_pipeline_is_what_fit_stores(
    history: list[LabelledOrder],
) -> None:
    stored = fit(history, C=0.5).model
    same = fit_model(history, make_pipeline(C=0.5), params={"C": 0.5})
    assert type(same) is Model and same.none_bias == stored.none_bias
    assert np.allclose(
        same.independent_probabilities(PROBE), stored.independent_probabilities(PROBE)
    )
    assert estimator_params(make_pipeline(C=0.5, class_weight="balanced")) == {
        "estimator": "logistic_regression",
        "C": 0.5,
        "class_weight": "balanced",
    }
    with pytest.raises(ValueError, match="no decided order"):
        fit_model([])


def test_grouped_examples_name_each_row_s_order(history: list[LabelledOrder]) -> None:
    X, y, groups = grouped_examples(history)
    X_plain, y_plain = examples(history)
    assert np.array_equal(X, X_plain) and np.array_equal(y, y_plain)
    for index, order in enumerate(history):
        rows = np.flatnonzero(groups == index)
        assert len(rows) == len(order.found.candidates)
        assert y[rows].sum() == (order.truth in {c.org_id for c in order.found.candidates})


def test_cross_validation_predicts_every_order_once_with_a_model_that_never_saw_it(
    history: list[LabelledOrder],
) -> None:
    cv = cross_validate(history, folds=4)
    assert len(cv.predictions) == len(history) and set(cv.folds) == {0, 1, 2, 3}
    assert [p.truth for p in cv.predictions] == [o.truth for o in history]
    assert sum(m["orders"] for m in cv.fold_metrics()) == len(history)
    assert cv.metrics == metrics(cv.predictions) and cv.metrics["accuracy"] > 0.85
    for fold, model in enumerate(cv.models):
        # Refitting on the other folds gives that fold's model: no held-out order leaked.
        others = [o for o, f in zip(history, cv.folds, strict=True) if f != fold]
        refit = fit_model(others)
        assert np.allclose(
            model.independent_probabilities(PROBE), refit.independent_probabilities(PROBE)
        )
    boosted = cross_validate(history, GradientBoostingClassifier(n_estimators=10), folds=3)
    assert all(isinstance(m, ClassifierModel) for m in boosted.models)
    assert boosted.models[0].params["estimator"] == "GradientBoostingClassifier"
    assert not boosted.model_of(0).contributions(PROBE).any()
    with pytest.raises(ValueError, match="folds"):
        cross_validate(history[:3], folds=5)


def _predictions(*bands: tuple[float, int, int]) -> list[Prediction]:
    """(confidence, right, wrong) bands as predictions."""
    made = []
    for confidence, right, wrong in bands:
        made += [Prediction("org", "org", ("org",), confidence)] * right
        made += [Prediction("org", "other", ("other",), confidence)] * wrong
    return made


def test_thresholds_are_picked_where_the_history_vouches_for_them() -> None:
    predictions = _predictions((0.99, 300, 0), (0.8, 45, 5), (0.5, 10, 10))
    assert pick_thresholds(predictions, 0.98, 0.9, certainty=0.9) == Thresholds(0.99, 0.99)
    assert pick_thresholds(predictions, 0.98, 0.9, certainty=0.5) == Thresholds(0.8, 0.8)
    assert pick_thresholds(predictions, 0.98, 0.5, certainty=0.5) == Thresholds(0.8, 0.5)
    # A few lucky orders promise nothing; errors at the top stop the scan whatever follows.
    assert pick_thresholds(_predictions((0.99, 5, 0)), 0.98) == Thresholds(1.0, 1.0)
    assert pick_thresholds(_predictions((0.99, 2, 1), (0.9, 900, 0)), 0.98) == Thresholds(1.0, 1.0)
    assert pick_thresholds([], 0.98) == Thresholds(1.0, 1.0)
    assert precision_bound(0, 0) == 0.0 and precision_bound(7, 10, 0.5) == 0.7
    assert precision_bound(130, 130) < precision_bound(1300, 1300) < 1.0


# --- the notebooks' tables against the records ------------------------------------


def test_order_and_outcome_tables_agree_with_the_finder(world: Database) -> None:
    with world.read() as session:
        orders = analysis.order_table(session, NOW)
        outcomes = analysis.outcome_table(session)
        labelled = finder.labelled_orders(session, NOW)
        total = session.scalar(select(func.count()).select_from(Order))
    assert len(orders) == len(outcomes) == total and orders.order_id.is_unique
    assert int(orders.decided.sum()) == int(outcomes.decided.sum()) == len(labelled)
    assert not orders.overridden.any()  # the demo records no "chose other" decision
    decided = outcomes[outcomes.decided].set_index("order_id")
    for order in labelled:
        row = decided.loc[order.found.order.order_id]
        truth = None if pd.isna(row.truth_org_id) else row.truth_org_id
        assert truth == order.truth and bool(row.truth_new_org) == (order.truth is None)
        assert row.outcome == outcome_of(order.found).value
        assert row.candidates == len(order.found.candidates)
    candidates = analysis.candidate_table(labelled)
    assert len(candidates) == sum(len(o.found.candidates) for o in labelled)
    assert int(candidates.chosen.sum()) == int(decided.truth_among_candidates.eq(True).sum())
    assert set(FEATURE_NAMES) <= set(candidates.columns)


def test_domain_sharing_counts_every_domain_row_and_member(world: Database) -> None:
    with world.read() as session:
        domains = analysis.domain_sharing(session)
        pairs = session.scalar(
            select(func.count()).select_from(
                select(OrgDomain.registrable_domain, OrgDomain.org_id).distinct().subquery()
            )
        )
        members = session.scalar(select(func.count()).select_from(Member))
        member_domains = session.scalar(select(func.count(distinct(Member.registrable_domain))))
    assert domains.domain.is_unique and int(domains.orgs_with_domain.sum()) == pairs
    assert int(domains.members.sum()) == members
    assert int((domains.members > 0).sum()) == member_domains
    assert (domains.orgs >= domains[["orgs_with_domain", "orgs_with_members"]].max(axis=1)).all()
    assert domains[domains.free_mail].orgs_with_domain.eq(0).all()


def test_backlog_tables_add_up_to_the_backlog_counts(world: Database) -> None:
    with world.read() as session:
        headline = backlog.counts(session, 14, NOW)
        stale = backlog.stale_orders(session, 7, NOW)
        open_orders = analysis.open_orders(session, NOW)
        partners = analysis.partner_backlog(session, 14, 7, NOW)
    assert len(open_orders) == headline.open == int(partners.open.sum())
    assert (
        int(partners.past_sla.sum()) == headline.past_sla == int((open_orders.age_days > 14).sum())
    )
    assert int(partners.delegated.sum()) == headline.delegated
    assert int(partners.stale.sum()) == len(stale)
    assert partners.partner.is_unique and "direct (no partner)" in set(partners.partner)


def test_errors_are_read_with_the_model_that_made_them(history: list[LabelledOrder]) -> None:
    cv = cross_validate(history, make_pipeline(C=0.05), folds=3)  # weak: it errs
    errors = analysis.error_table(cv)
    table = analysis.prediction_table(cv.orders, cv.predictions)
    assert len(errors) == int(cv.metrics["errors"]) == int((~table.correct).sum()) > 0
    assert set(errors.kind) <= {
        "wrong org",
        "org instead of new",
        "new instead of org",
        "truth not a candidate",
    }
    assert set(errors.order_id) == set(table.order_id[~table.correct])
    pairs = analysis.pair_calibration(cv)
    assert len(pairs) == sum(len(o.found.candidates) for o in history)
    assert pairs.probability.between(0, 1).all()


def test_notebook_helpers_open_only_a_ready_database(world: Database, tmp_path: Path) -> None:
    analysis.open_database(world.url).dispose()
    with pytest.raises(RuntimeError, match="onboard db upgrade"):
        analysis.open_database(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    assert analysis.as_of("2026-11-24T12:00") == NOW == analysis.as_of("2026-11-24T12:00Z")
    assert abs(analysis.as_of(None) - utcnow()) < timedelta(minutes=1)
    with world.read() as session:
        assert analysis.model_history(session).empty
