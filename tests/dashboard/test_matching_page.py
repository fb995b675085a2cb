"""The Matching page as an analyst uses it: versions and their held-out metrics, the
threshold what-if agreeing with the service, the three plots, blind-review agreement,
the history's misses, and activating a version (recorded for the analyst, not offered
to a manager, who reads the page)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import pytest
from sqlalchemy import select, update
from streamlit.testing.v1 import AppTest

from provisioning import finder
from provisioning.access import Actor
from provisioning.db import Database
from provisioning.demo.seed import create_demo
from provisioning.demo.world import WorldParams
from provisioning.finder import blind_review, diagnostics
from provisioning.models import AuditEvent, Order
from provisioning.states import OrderState, Role
from tests.dashboard.conftest import account, open_view

ANALYST = "analyst@example.com"
PLOTS = {"Accuracy–coverage curve", "Reliability (calibration)", "Precision–recall"}


@dataclass(frozen=True)
class World:
    db: Database
    misled_order: str  # a decided order whose recorded org the model cannot agree with


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A demo world with two trained versions (the second active), one past decision
    rewritten to another org, and one blind review."""
    now = datetime.now(UTC)
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('matching') / 'demo.sqlite'}")
    db.ensure_schema()
    create_demo(db, WorldParams(orgs=200, seed=3, now=now), "demo@example.com")
    analyst = account(db, Role.ANALYST)
    finder.train(db, analyst, force=True, now=now)
    finder.train(db, analyst, C=0.5, force=True, now=now)
    with db.write() as session:
        decided = session.execute(
            select(Order.order_id, Order.org_id)
            .where(Order.decision.is_not(None), Order.new_org.is_(False))
            .order_by(Order.order_id)
        ).all()
        (misled, _org), (_other, other_org) = decided[0], decided[1]
        session.execute(update(Order).where(Order.order_id == misled).values(org_id=other_org))
        waiting = session.scalars(
            select(Order.order_id)
            .where(Order.state == OrderState.AWAITING_ORG.value)
            .order_by(Order.order_id)
        ).first()
    assert waiting is not None
    blind_review.record(db, waiting, account(db), None, now)  # an operator's
    yield World(db, misled)
    db.dispose()


def _open(
    monkeypatch: pytest.MonkeyPatch, url: str, lang: str = "en", actor: Actor | None = None
) -> AppTest:
    """The page as an analyst sees it, unless another reader is given."""
    return open_view(monkeypatch, url, "matching", lang, actor or account(url, Role.ANALYST))


def _tiles(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def _plots(at: AppTest) -> dict[str, dict]:
    charts = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    return {chart["layout"]["title"]["text"]: chart for chart in charts}


def _table(at: AppTest, column: str) -> pd.DataFrame:
    """The table that has `column` (AppTest does not expose a read-only table's key)."""
    return next(df.value for df in at.dataframe if column in df.value.columns)


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def test_a_fresh_install_says_what_is_missing(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    Database(sqlite_url).ensure_schema()
    at = _open(monkeypatch, sqlite_url)
    assert at.title[0].value == "Matching"
    notes = [info.value for info in at.info]
    assert any("No trained versions yet" in note for note in notes)
    assert any("No decided orders yet" in note for note in notes)
    assert any("No blind reviews yet" in note for note in notes)
    assert "Used for matching now: Shipped model." in [c.value for c in at.caption]
    assert not at.get("plotly_chart")


def test_versions_diagnostics_and_misses_are_the_services(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _open(monkeypatch, world.db.url)
    versions = _table(at, "Held-out orders")
    stored = finder.model_versions(world.db)
    assert list(versions["Version"]) == [str(v.version) for v in stored]
    assert list(versions["Active"]) == ["✓" if v.active else "" for v in stored]
    assert list(versions["Accuracy"]) == [_pct(v.held_out["accuracy"]) for v in stored]

    report = diagnostics.diagnostics(world.db)
    tiles = _tiles(at)
    assert tiles["Accuracy"] == _pct(report.metrics["accuracy"])
    assert tiles["Wrong answers"] == str(report.misses_total) != "0"
    effect = diagnostics.what_if(
        report.predictions, report.thresholds.auto, report.thresholds.review
    )
    assert tiles["Applied automatically"] == _pct(effect["auto_share"])
    assert tiles["Left to an operator"] == _pct(effect["operator_share"])
    assert set(_plots(at)) == PLOTS

    misses = _table(at, "Evidence the model saw")
    assert world.misled_order in set(misses["Order ID"])
    row = misses.set_index("Order ID").loc[world.misled_order]
    assert row["Evidence the model saw"] and row["Model's pick"] != row["Decided organization"]

    assert tiles["Blind reviews"] == "1"
    # What the automatic threshold promises, as the version's risk control chose it.
    control = report.risk_control
    assert control is not None
    said = [c.value for c in at.caption if "conformal risk control" in c.value]
    if control["auto"] is None:
        said = [c.value for c in at.caption if "could promise" in c.value]
    assert len(said) == 1 and "99.5%" in said[0] and "90.0%" in said[0]


def test_the_thresholds_what_if_moves_with_the_sliders(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _open(monkeypatch, world.db.url)
    version = at.selectbox(key="matching_diagnose_version").value
    at.slider(key=f"matching_review_{version}").set_value(0.0)
    at.slider(key=f"matching_auto_{version}").set_value(0.0).run()
    tiles = _tiles(at)
    report = diagnostics.diagnostics(world.db)
    assert tiles["Applied automatically"] == "100.0%"
    assert tiles["Right among those"] == _pct(report.metrics["accuracy"])
    assert tiles["Left to an operator"] == "0.0%"
    marks = _plots(at)["Accuracy–coverage curve"]["data"][1]
    assert (marks["name"], marks["x"]) == ("Automatic threshold", [100.0])

    at.slider(key=f"matching_review_{version}").set_value(0.9)
    at.slider(key=f"matching_auto_{version}").set_value(0.5).run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "The confirmation threshold cannot be above the automatic one."
    ]


def test_activating_a_version_is_for_the_analyst_and_is_audited(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def activations() -> list[tuple[str, str]]:
        with world.db.read() as session:
            rows = session.execute(
                select(AuditEvent.actor, AuditEvent.entity_id).where(
                    AuditEvent.action == "model.activate"
                )
            )
            return [tuple(row) for row in rows]

    inactive = next(v.version for v in finder.model_versions(world.db) if not v.active)
    manager = _open(monkeypatch, world.db.url, actor=account(world.db, Role.MANAGER))
    assert not [b for b in manager.button if b.key == "matching_activate"]  # reads only
    assert not [s for s in manager.selectbox if s.key == "matching_activate_version"]

    at = _open(monkeypatch, world.db.url)
    at.selectbox(key="matching_activate_version").select(inactive)
    at.button(key="matching_activate").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value == f"Version {inactive} is now used for matching."
    assert activations() == [(ANALYST, str(inactive))]
    assert f"Used for matching now: Version {inactive}." in [c.value for c in at.caption]
    versions = _table(at, "Held-out orders").set_index("Version")
    assert versions.loc[str(inactive), "Active"] == "✓"


def test_swedish_labels(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _open(monkeypatch, world.db.url, lang="sv")
    assert at.title[0].value == "Matchning"
    tiles = _tiles(at)
    assert {"Träffsäkerhet", "Tillämpas automatiskt", "Blindgranskningar"} <= set(tiles)
    assert tiles["Träffsäkerhet"].endswith("\xa0%") and "," in tiles["Träffsäkerhet"]
    assert set(_plots(at)) == {
        "Träffsäkerhet mot täckning",
        "Tillförlitlighet (kalibrering)",
        "Precision mot täckning",
    }
    assert "Modellens val" in _table(at, "Belägg som modellen såg").columns
