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


def test_a_refused_demo_writes_nothing_and_a_demo_after_an_admin_works(
    database_url: str,
) -> None:
    """An installation whose first admin was added before the demo: the demo adds its
    accounts as the job it is. An account the demo would clash with refuses the whole
    demo, and then nothing at all was written."""
    code, _, err = run(database_url, "users", "add", "ops@x.example", "--role", "admin")
    assert code == 0, err
    code, _, err = run(
        database_url,
        "users",
        "add",
        "operator@desk.example",
        "--role",
        "analyst",
        "--actor",
        "ops@x.example",
    )
    assert code == 0, err
    db = Database(database_url)
    try:
        before = _table_counts(db)
        code, _, err = run(database_url, "demo", "--orgs", "50", "--no-score")
        assert code == 2 and "nothing was changed" in err and "an account exists already" in err
        assert _table_counts(db) == before  # nothing was changed, truly

        code, _, err = run(database_url, "users", "add", "fresh@x.example", "--role", "admin")
        assert code == 2  # an admin exists: the bootstrap is over
    finally:
        db.dispose()


def test_the_demo_adds_its_accounts_beside_an_existing_admin(database_url: str) -> None:
    assert run(database_url, "users", "add", "ops@x.example", "--role", "admin")[0] == 0
    code, out, err = run(database_url, "demo", "--orgs", "50", "--no-score", "--format", "json")
    assert code == 0, err
    assert {a["email"] for a in json.loads(out)["accounts"]} >= {
        "admin@desk.example",
        "operator@desk.example",
    }
    db = Database(database_url)
    try:
        with db.read() as session:
            creators = set(
                session.scalars(select(AuditEvent.role).where(AuditEvent.action == "account.add"))
            )
        assert creators == {"system"}  # the bootstrap admin, then the demo job's accounts
    finally:
        db.dispose()


def _table_counts(db: Database) -> dict[str, int]:
    from provisioning.models import Base

    with db.read() as session:
        return {
            name: session.scalar(select(func.count()).select_from(table)) or 0
            for name, table in Base.metadata.tables.items()
        }


def test_every_demo_state_is_one_the_services_reach_and_continue_from(db: Database) -> None:
    """Waiting orders have their pending approval request; mapped and complete orders
    have what mapping and setup leave behind (the mapping time, the partner's role,
    Meetings sites, the Calling location, the customer's administrator)."""
    from provisioning import orders
    from provisioning.models import CallingLocation, MeetingsSite, OrgApproval, PartnerAccess
    from tests.people import OPERATOR

    create_demo(db, WorldParams(orgs=1500, seed=4, now=NOW), "demo@example.com")
    with db.read() as session:
        waiting = session.scalars(
            select(Order.order_id).where(Order.state == OrderState.AWAITING_APPROVAL)
        ).all()
        pending = set(
            session.scalars(select(OrgApproval.order_id).where(OrgApproval.status == "pending"))
        )
        mapped = session.scalars(
            select(Order).where(Order.state.in_([OrderState.ORG_MAPPED, OrderState.COMPLETE]))
        ).all()
        services = {(s.order_id, s.service): s.state for s in session.scalars(select(OrderService))}
        sites = {s.order_id for s in session.scalars(select(MeetingsSite))}
        locations = {c.order_id for c in session.scalars(select(CallingLocation))}
        roles = {(p.org_id, p.partner_id) for p in session.scalars(select(PartnerAccess))}
    assert waiting and set(waiting) == pending
    assert mapped and all(o.mapped_at is not None for o in mapped)
    for order in mapped:
        provisioned = {
            svc
            for (oid, svc), st in services.items()
            if oid == order.order_id and st == "provisioned"
        }
        assert ("meetings" in provisioned) == (order.order_id in sites), order.order_id
        assert ("calling" in provisioned) == (order.order_id in locations), order.order_id
        if order.intent == "customer":
            assert (order.org_id, order.partner_id) in roles, order.order_id
        handed = any(
            st == "customer_self_setup"
            for (oid, _), st in services.items()
            if oid == order.order_id
        )
        assert handed == (order.customer_admin_email is not None), order.order_id
        assert order.state != OrderState.COMPLETE or not handed
    # The real services continue from each waiting order: approve one, decline another.
    assert orders.answer_approval(db, waiting[0], True, OPERATOR).state == "org_mapped"
    if len(waiting) > 1:
        declined = orders.answer_approval(db, waiting[1], False, OPERATOR, reason="not theirs")
        assert declined.state == "awaiting_org"
