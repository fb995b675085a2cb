"""`onboard demo` and the dataset commands as operators' scripts use them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from provisioning.cli import cli
from provisioning.dataset import export_dataset
from provisioning.db import Database
from provisioning.demo.seed import create_demo
from provisioning.demo.world import WorldParams
from provisioning.errors import Conflict
from provisioning.models import AuditEvent, Order, OrderService, Org
from provisioning.states import Decision, OrderState, ServiceState
from tests.conftest import FIXTURES

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
PARAMS = WorldParams(orgs=300, seed=11, now=NOW)


def test_demo_fills_every_workflow_state(db: Database) -> None:
    report = create_demo(db, PARAMS, "demo@example.com")
    with db.read() as session:
        states = dict(
            session.execute(select(Order.state, func.count()).group_by(Order.state)).all()
        )
        decided = session.scalars(select(Order).where(Order.state == OrderState.COMPLETE)).all()
        services = set(session.scalars(select(OrderService.state)))
        audit = session.scalars(select(AuditEvent.action)).all()
    assert states == {k: v for k, v in report.orders_by_state.items()}
    assert {OrderState.AWAITING_INTENT, OrderState.AWAITING_ORG, OrderState.HISTORY} <= set(states)
    assert decided and all(o.org_id and o.decision for o in decided)
    assert any(o.decision == Decision.ACCEPTED for o in decided)
    assert ServiceState.PROVISIONED in services
    assert audit == ["dataset.import", "demo.generate"]


def test_same_seed_gives_the_same_database(tmp_path: Path) -> None:
    exports = []
    for name in ("a", "b"):
        db = Database(f"sqlite:///{tmp_path / name}.sqlite")
        db.ensure_schema()
        create_demo(db, PARAMS, "demo@example.com")
        export_dataset(db, tmp_path / f"export-{name}")
        db.dispose()
        exports.append(tmp_path / f"export-{name}")
    for path in exports[0].iterdir():
        assert (exports[1] / path.name).read_bytes() == path.read_bytes(), path.name


def test_demo_refuses_a_database_with_data(db: Database) -> None:
    create_demo(db, WorldParams(orgs=20, now=NOW), "demo@example.com")
    with pytest.raises(Conflict):
        create_demo(db, WorldParams(orgs=20, now=NOW), "demo@example.com")


def run(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--db", url, *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_demo_if_empty_and_out(database_url: str, tmp_path: Path) -> None:
    code, out, _ = run(
        database_url,
        "demo",
        "--orgs",
        "50",
        "--now",
        "2026-11-24",
        "--out",
        str(tmp_path / "world"),
        "--format",
        "json",
    )
    assert code == 0
    assert json.loads(out)["files"][0] == {"file": "orgs.csv", "rows": 50}
    assert (tmp_path / "world" / "orgs.csv").is_file()
    code, out, _ = run(database_url, "demo", "--if-empty")
    assert code == 0 and "no demo generated" in out
    code, _, err = run(database_url, "demo")
    assert code == 1 and "already holds orgs" in err
    code, _, err = run(database_url, "demo", "--now", "tomorrow")
    assert code == 2 and "--now" in err


def test_cli_import_export_and_exit_codes(database_url: str, tmp_path: Path) -> None:
    code, out, err = run(database_url, "import", str(FIXTURES / "mini"), "--format", "json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["rows"] == 39 and summary["changed"] == 39
    assert "README.md" in err  # the warning goes to stderr, the JSON stays parseable

    code, out, _ = run(database_url, "import", str(FIXTURES / "mini"))
    assert code == 0 and "0 changed" in out

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "orgs.csv").write_text("org_id,name,created_at,status\no1,One,2020-01-01,gone\n")
    code, _, err = run(database_url, "import", str(broken))
    assert code == 2
    assert "orgs.csv:2: status: must be one of active, expired, trial" in err
    assert "domains.csv: (row): required file is missing" in err

    code, out, _ = run(database_url, "export", str(tmp_path / "out"), "--format", "json")
    assert code == 0
    assert {"file": "orgs.csv", "rows": 7} in json.loads(out)
    db = Database(database_url)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Org)) == 7
    db.dispose()
