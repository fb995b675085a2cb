"""The organization finder against the system of record: the mini dataset's cases, a round
of training, model versions, and the CLI's JSON contract."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from matching.scorer import Thresholds
from provisioning import finder
from provisioning.cli import cli
from provisioning.dataset import import_dataset
from provisioning.db import Database
from provisioning.demo.seed import create_demo
from provisioning.demo.world import WorldParams
from provisioning.errors import Conflict, InvalidInput, NotFound
from provisioning.models import AuditEvent, ModelVersion, OrderMatch
from tests.conftest import FIXTURES
from tests.people import ANALYST, MANAGER, OPERATOR, add_accounts

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
ACTOR = ANALYST
# tests/fixtures/mini/README.md: what the finder should find for each order.
MINI_EXPECTED = {
    "ORD-1001": ("exact", "org-acme"),
    "ORD-1002": ("domain", "org-acme"),
    "ORD-1003": ("none", None),
    "ORD-1004": ("domain", "org-nordvik"),
    "ORD-1005": ("exact", "org-berlin"),
}


@pytest.fixture
def mini(db: Database) -> Database:
    import_dataset(db, FIXTURES / "mini", ACTOR.email)
    return db


def test_each_mini_case_is_found_as_its_readme_says(mini: Database) -> None:
    results = {r.order_id: r for r in finder.match_all(mini, NOW)}
    assert set(results) == set(MINI_EXPECTED)  # the labelled history is not the queue
    for order_id, (outcome, org_id) in MINI_EXPECTED.items():
        result = results[order_id]
        assert (result.outcome.value, result.recommended_org_id) == (outcome, org_id), order_id
    ranked = [s.candidate.org_id for s in results["ORD-1002"].ranking.ranked]
    assert ranked[0] == "org-acme" and {"org-acme-test", "org-acme-sales"} <= set(ranked[1:])
    acme_test = next(
        c for c in results["ORD-1002"].to_dict()["candidates"] if c["org_id"] == "org-acme-test"
    )
    assert "domain acme.se unverified" in acme_test["evidence"]
    assert "silent since 2023" in acme_test["evidence"]


def test_one_order_and_its_errors(mini: Database) -> None:
    assert finder.match_one(mini, "ORD-1005", NOW).recommended_org_id == "org-berlin"
    with pytest.raises(NotFound):
        finder.match_one(mini, "ORD-404", NOW)
    with pytest.raises(Conflict, match="already decided"):
        finder.match_one(mini, "ORD-0901", NOW)


def test_the_shipped_model_serves_a_fresh_install(mini: Database) -> None:
    with mini.read() as session:
        assert finder.active_model(session).version == finder.DEFAULT_VERSION


def test_a_round_of_training_stores_and_activates_a_version(db: Database) -> None:
    world = WorldParams(orgs=400, seed=5, now=NOW, orders_per_100_orgs=40.0, history_share=0.7)
    create_demo(db, world, ACTOR.email)

    report = finder.train(db, ACTOR, now=NOW)

    assert report.version == 1
    assert report.result.metrics["accuracy"] >= 0.9
    assert set(report.baselines) == {"rule_of_thumb", "old_wizard"}
    # Activated exactly when it is not worse than the shipped model on the same orders.
    not_worse = (
        report.result.metrics["accuracy"]
        >= report.previous["accuracy"] - finder.ACTIVATION_TOLERANCE
    )
    assert report.activated == not_worse
    with db.read() as session:
        expected = 1 if report.activated else finder.DEFAULT_VERSION
        assert finder.active_model(session).version == expected
        stored = session.get_one(ModelVersion, 1)
        assert stored.artifact_format == "skops" and stored.metrics["held_out"]["orders"] > 0
        actions = session.scalars(select(AuditEvent.action)).all()
    assert "model.train" in actions
    # An ensemble learnt on top of the shipped model; its auto threshold was chosen by
    # conformal risk control on out-of-fold predictions, and that is what evaluate says.
    trained = finder.load_version(stored)
    assert len(trained.members) == 5 and stored.params["prior"] is True
    control = stored.params["settings"]["risk_control"]
    assert control["target"] == 0.995 and control["certainty"] == 0.9
    assert trained.thresholds.auto == (1.0 if control["auto"] is None else control["auto"])
    assert finder.evaluate(db, version=1, now=NOW)["risk_control"] == control
    second = finder.train(db, ACTOR, C=0.5, now=NOW, force=True)
    assert second.version == 2 and second.activated
    with db.read() as session:
        assert finder.active_model(session).version == 2
    assert finder.activate(db, 1, ACTOR) is True
    assert finder.activate(db, 1, ACTOR) is False  # already active: nothing changes
    assert [m["active"] for m in finder.list_models(db)] == [True, False]
    evaluation = finder.evaluate(db, thresholds=Thresholds(auto=0.99, review=0.5), now=NOW)
    effect = evaluation["thresholds_effect"]
    assert effect["auto_share"] + effect["confirm_share"] + effect[
        "operator_share"
    ] == pytest.approx(1)
    assert (
        evaluation["metrics"]["model"]["errors"] <= evaluation["metrics"]["rule_of_thumb"]["errors"]
    )


def test_training_on_a_tiny_history_is_stored_but_not_activated(mini: Database) -> None:
    report = finder.train(mini, ACTOR, now=NOW)  # mini has two past decisions
    assert report.result.in_sample and not report.activated
    with mini.read() as session:
        assert finder.active_model(session).version == finder.DEFAULT_VERSION
    forced = finder.train(mini, ACTOR, now=NOW, force=True)
    assert forced.activated


def test_training_without_any_decision_is_refused(db: Database) -> None:
    with pytest.raises(InvalidInput, match="no decided order"):
        finder.train(db, ACTOR, now=NOW)


def test_cli_match_jsonl_contract(database_url: str) -> None:
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["--db", database_url, "import", str(FIXTURES / "mini")]).exit_code == 0
    )
    result = runner.invoke(cli, ["--db", database_url, "match", "--all", "--format", "jsonl"])
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert {line["order_id"] for line in lines} == set(MINI_EXPECTED)
    for line in lines:
        assert {"order_id", "outcome", "recommended_org_id", "confidence", "candidates"} <= set(
            line
        )
        assert {"model_confidence", "agreement", "familiarity", "guard_rails", "doubts"} <= set(
            line
        )
        assert line["confidence"] <= line["model_confidence"]
        for candidate in line["candidates"]:
            assert {"org_id", "name", "score", "evidence", "reasons"} <= set(candidate)
    table = runner.invoke(cli, ["--db", database_url, "match", "--order", "ORD-1003"])
    assert table.exit_code == 0 and "create a new organization" in table.stdout
    both = runner.invoke(cli, ["--db", database_url, "match", "--order", "ORD-1003", "--all"])
    assert both.exit_code == 2 and "--order/--all" in both.stderr
    missing = runner.invoke(cli, ["--db", database_url, "match", "--order", "ORD-404"])
    assert missing.exit_code == 2
    thresholds = runner.invoke(
        cli, ["--db", database_url, "evaluate", "--auto", "0.2", "--review", "0.9"]
    )
    assert thresholds.exit_code == 2 and "review <= auto" in thresholds.stderr


def test_saving_the_finders_answers_needs_an_account_allowed_to_score_and_is_audited(
    db: Database,
) -> None:
    import_dataset(db, FIXTURES / "mini", ANALYST.email)
    add_accounts(db, MANAGER, OPERATOR)
    runner = CliRunner()

    def save(*actor: str):  # type: ignore[no-untyped-def]
        args = ["--db", db.url, "match", "--all", "--save", "--format", "jsonl", *actor]
        return runner.invoke(cli, args)

    def stored() -> tuple[int, list[tuple[str, str, dict[str, object] | None]]]:
        with db.read() as session:
            rows = session.scalar(select(func.count()).select_from(OrderMatch)) or 0
            events = session.execute(
                select(AuditEvent.actor, AuditEvent.role, AuditEvent.after).where(
                    AuditEvent.action == "finder.scored"
                )
            ).all()
        return rows, [tuple(e) for e in events]  # type: ignore[misc]

    nobody = save()
    assert nobody.exit_code == 2 and "--actor or ONBOARD_ACTOR" in nobody.stderr
    manager = save("--actor", MANAGER.email)
    assert manager.exit_code == 1 and "may not score waiting orders" in manager.stderr
    assert manager.stdout == "" and stored() == (0, [])  # refused before anything ran
    assert runner.invoke(cli, ["--db", db.url, "match", "--all"]).exit_code == 0  # reading
    assert stored() == (0, [])

    done = save("--actor", OPERATOR.email)
    assert done.exit_code == 0, done.stderr
    assert stored() == (len(MINI_EXPECTED), [(OPERATOR.email, "operator", {"orders": 5})])


def test_batch_matching_answers_exactly_like_one_by_one(db: Database) -> None:
    """`match --all` prefetches a batch's look-ups; the results must not change."""
    create_demo(db, WorldParams(orgs=300, seed=8, now=NOW, orders_per_100_orgs=30.0), ACTOR.email)
    batched = {r.order_id: r.to_dict() for r in finder.match_all(db, NOW)}
    assert len(batched) > 20
    for order_id, expected in batched.items():
        assert finder.match_one(db, order_id, NOW).to_dict() == expected, order_id
