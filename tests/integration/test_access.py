"""Access control at the service layer: each role's permissions, partner scoping, the
accounts and sign-in, the append-only audit trail, and the CLI acting as an account."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from provisioning import finder, orders, outbox
from provisioning.access import GRANTS, Actor, Permission, Role, accounts, reading
from provisioning.cli import cli
from provisioning.dataset import import_dataset
from provisioning.db import Database
from provisioning.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    ProvisioningError,
    SignInRefused,
)
from provisioning.finder import answers, blind_review, org_search
from provisioning.models import AuditEvent, Order, Org
from provisioning.orders import load_summary, order_detail, queue
from provisioning.reports.backlog import breakdown, counts
from tests.conftest import FIXTURES
from tests.people import ADMIN, ANALYST, MANAGER, OPERATOR, add_accounts, partner_admin

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
FJORD = partner_admin("org-fjord")  # ORD-1001, -1003, -1004, -0901; manages acme, nordvik
SKOG = partner_admin("org-skog")  # ORD-1005 (Lichtenwerk); manages org-berlin
EVERYONE = (OPERATOR, MANAGER, ANALYST, ADMIN, FJORD)


@pytest.fixture
def world(db: Database) -> Database:
    """The mini dataset with a second partner: org-skog ordered ORD-1005 and manages the
    Lichtenwerk org, so each partner has customers the other must never see."""
    import_dataset(db, FIXTURES / "mini", "importer@example.com")
    with db.write() as session:
        session.add(
            Org(
                org_id="org-skog",
                name="Skog IT Partner AB",
                country="SE",
                created_at=NOW - timedelta(days=900),
                status="active",
            )
        )
        session.flush()
        session.execute(update(Org).where(Org.org_id == "org-berlin").values(partner_id="org-skog"))
        session.execute(
            update(Order).where(Order.order_id == "ORD-1005").values(partner_id="org-skog")
        )
    return db


def _audit_count(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


# --- roles ------------------------------------------------------------------------------

ACTIONS: dict[Permission, Callable[[Database, Actor], Any]] = {
    Permission.RESOLVE_ORDERS: lambda db, a: orders.set_intent(db, "ORD-1001", "customer", a),
    Permission.PROVISION: lambda db, a: orders.configure_later(db, "ORD-1001", "calling", a),
    Permission.BLIND_REVIEW: lambda db, a: blind_review.record(db, "ORD-1002", a, None),
    Permission.RUN_FINDER: lambda db, a: answers.score_waiting(db, a, NOW),
    Permission.PUBLISH_MODELS: lambda db, a: finder.rollback(db, "default", a),
    Permission.RETRY_EMAIL: lambda db, a: outbox.retry_failed(db, None, a),
    Permission.MANAGE_ACCOUNTS: lambda db, a: accounts.list_accounts(db, a),
    Permission.READ_AUDIT: lambda db, a: __import__("provisioning.audit").audit.choices(db, a),
}


@pytest.mark.parametrize("actor", EVERYONE, ids=lambda a: a.role.value)
def test_each_role_may_do_exactly_what_it_is_granted(world: Database, actor: Actor) -> None:
    for permission, action in ACTIONS.items():
        before = _audit_count(world)
        if permission in GRANTS[actor.role]:
            try:
                action(world, actor)
            except Forbidden:
                pytest.fail(f"{actor.role} was refused {permission}")
            except ProvisioningError:
                pass  # allowed; the workflow may still refuse the step itself
            continue
        with pytest.raises(Forbidden, match=actor.email):
            action(world, actor)
        assert _audit_count(world) == before, f"{permission} refused but something was written"


def test_the_audit_trail_records_the_role_used(world: Database) -> None:
    orders.set_intent(world, "ORD-1001", "customer", OPERATOR)
    orders.set_intent(world, "ORD-1003", "customer", FJORD)
    with world.read() as session:
        rows = session.execute(
            select(AuditEvent.entity_id, AuditEvent.actor, AuditEvent.role).where(
                AuditEvent.action == "order.intent"
            )
        ).all()
    assert sorted(rows) == [
        ("ORD-1001", OPERATOR.email, "operator"),
        ("ORD-1003", FJORD.email, "partner_admin"),
    ]


# --- partner scoping --------------------------------------------------------------------


def test_a_partner_admin_sees_only_its_own_orders_and_orgs(world: Database) -> None:
    with reading(world, FJORD, Permission.READ_ORDERS) as session:
        listed = {row.order_id for row in queue.queue(session, limit=100, now=NOW).rows}
        tiles = queue.queue_counts(session, now=NOW)
        found = {
            hit.org_id
            for text in ("acme", "lichtenwerk", "org-berlin")
            for hit in org_search.search_orgs(session, text)
        }
        by_email = org_search.search_orgs(session, "max.stein@lichtenwerk.de")
        by_partner = {row["key"] for row in breakdown(session, "partner")}
        open_orders = counts(session, 14, NOW)
        with pytest.raises(NotFound):
            order_detail(session, "ORD-1005", 30, NOW)
        with pytest.raises(NotFound):
            load_summary(session, "ORD-1002", NOW)
        assert load_summary(session, "ORD-1001", NOW).order_id == "ORD-1001"
        everything = session.scalars(select(Order.order_id)).all()
        all_orgs = session.scalars(select(Org.org_id)).all()
    assert listed and listed <= {"ORD-1001", "ORD-1003", "ORD-1004"}
    assert sum(tiles.values()) > 0
    assert found == {"org-acme"}  # not Acme Sales / Acme test: nobody's, so not its
    assert by_email == []
    assert by_partner <= {"org-fjord"}
    assert set(everything) == {"ORD-1001", "ORD-1003", "ORD-1004", "ORD-0901"}
    assert set(all_orgs) == {"org-acme", "org-nordvik"}
    with reading(world, OPERATOR, Permission.READ_ORDERS) as session:
        assert open_orders.open < counts(session, 14, NOW).open  # support sees more


def test_a_partner_admin_cannot_touch_another_partners_order_or_org(world: Database) -> None:
    before = _audit_count(world)
    with pytest.raises(NotFound):
        orders.set_intent(world, "ORD-1005", "customer", FJORD)  # org-skog's order
    orders.set_intent(world, "ORD-1001", "customer", FJORD)
    with pytest.raises(InvalidInput) as refused:
        orders.map_org(world, "ORD-1001", "org-berlin", FJORD)  # org-skog's customer
    assert refused.value.errors[0].field == "org"
    assert _audit_count(world) == before + 1  # only its own intent
    assert orders.map_org(world, "ORD-1001", "org-acme", FJORD).state == "org_mapped"
    with pytest.raises(NotFound):
        orders.set_intent(world, "ORD-1001", "customer", SKOG)


def test_a_partner_admin_creating_an_org_for_its_customer_then_sees_it(world: Database) -> None:
    orders.set_intent(world, "ORD-1003", "customer", FJORD)
    created = orders.create_org(world, "ORD-1003", "Sjöberg Media AB", "Media", "SE", FJORD)
    with reading(world, FJORD, Permission.READ_ORDERS) as session:
        org_id = session.scalar(select(Order.org_id).where(Order.order_id == "ORD-1003"))
        assert session.get(Org, org_id) is not None
    with reading(world, SKOG, Permission.READ_ORDERS) as session:
        assert session.get(Org, org_id) is None
        assert org_search.search_orgs(session, "Sjöberg Media") == []
    assert created.state == "org_mapped"


# --- accounts and sign-in ---------------------------------------------------------------


def test_sign_in_checks_the_argon2_hash_and_locks_after_five_failures(world: Database) -> None:
    password = "correct horse battery"
    accounts.add_account(world, None, ADMIN.email, "admin")
    accounts.add_account(world, ADMIN, "kim@example.com", "operator", password=password, now=NOW)
    with world.read() as session:
        stored = session.scalar(text("SELECT password_hash FROM accounts WHERE role = 'operator'"))
    assert stored.startswith("$argon2id$") and password not in stored

    assert accounts.sign_in(world, "Kim@Example.com", password, NOW) == Actor(
        "kim@example.com", Role.OPERATOR
    )
    for attempt in range(accounts.MAX_FAILED_SIGN_INS):
        with pytest.raises(SignInRefused) as refused:
            accounts.sign_in(world, "kim@example.com", f"guess {attempt}", NOW)
        assert str(refused.value) == accounts.REFUSED  # the same words whatever the cause
    with pytest.raises(SignInRefused):  # locked: even the right password is refused
        accounts.sign_in(world, "kim@example.com", password, NOW + timedelta(minutes=5))
    with pytest.raises(SignInRefused, match="wrong e-mail or password"):
        accounts.sign_in(world, "nobody@example.com", password, NOW)
    later = NOW + accounts.LOCK_OUT + timedelta(seconds=1)
    assert accounts.sign_in(world, "kim@example.com", password, later).role is Role.OPERATOR


def test_accounts_are_managed_by_admins_only_and_a_disabled_one_cannot_act(
    world: Database,
) -> None:
    with pytest.raises(InvalidInput, match="first account must be an admin"):
        accounts.add_account(world, None, "op@example.com", "operator")
    assert accounts.add_account(world, None, ADMIN.email, "admin")
    with pytest.raises(InvalidInput, match="an admin exists"):
        accounts.add_account(world, None, "second@example.com", "admin")
    with pytest.raises(Forbidden):
        accounts.add_account(world, OPERATOR, "op@example.com", "operator")
    with pytest.raises(InvalidInput) as refused:
        accounts.add_account(world, ADMIN, "p@example.com", "partner_admin")
    assert refused.value.errors[0].field == "partner"
    assert accounts.add_account(
        world, ADMIN, "p@example.com", "partner_admin", partner_id="org-skog"
    )
    assert not accounts.add_account(
        world, ADMIN, "p@example.com", "partner_admin", partner_id="org-skog"
    )  # a repeat
    assert accounts.actor_for(world, "p@example.com") == partner_admin("org-skog", "p@example.com")
    assert accounts.set_disabled(world, ADMIN, "p@example.com", True)
    with pytest.raises(InvalidInput) as refused:
        accounts.actor_for(world, "p@example.com")
    assert refused.value.errors[0].field == "actor"
    with pytest.raises(InvalidInput, match="your own account"):
        accounts.set_disabled(world, ADMIN, ADMIN.email, True)
    listed = {row.email: row for row in accounts.list_accounts(world, ADMIN)}
    assert listed["p@example.com"].disabled and listed["admin@example.com"].role == "admin"


def test_single_sign_on_maps_an_identity_to_its_account_or_a_claimed_role(
    world: Database,
) -> None:
    add_accounts(world, FJORD)
    roles = {"onboarding-ops": "operator", "partner-x": "partner_admin"}
    mapped = accounts.sso_actor(world, FJORD.email, {}, "groups", roles)
    assert mapped == FJORD  # the account (and its partner binding) wins
    claimed = accounts.sso_actor(
        world, "new@corp.example", {"groups": ["onboarding-ops"]}, "groups", roles
    )
    assert claimed == Actor("new@corp.example", Role.OPERATOR)
    with pytest.raises(SignInRefused, match="not a role"):  # a partner binding is ours
        accounts.sso_actor(world, "x@corp.example", {"groups": "partner-x"}, "groups", roles)
    with pytest.raises(SignInRefused, match="no account here"):
        accounts.sso_actor(world, "y@corp.example", {"groups": ["visitors"]}, "groups", roles)


# --- hardening --------------------------------------------------------------------------


def test_the_audit_trail_is_append_only_in_the_database(world: Database) -> None:
    orders.set_intent(world, "ORD-1001", "customer", OPERATOR)
    for statement in ("UPDATE audit_events SET actor = 'someone else'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"), world.write() as session:
            session.execute(text(statement))
    if world.dialect == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), world.write() as session:
            session.execute(text("TRUNCATE audit_events"))
    assert _audit_count(world) >= 2


# --- the CLI acts as an account ---------------------------------------------------------


def test_the_cli_acts_as_an_account_and_its_role_is_enforced(world: Database) -> None:
    add_accounts(world, OPERATOR, MANAGER)
    runner = CliRunner()

    def onboard(*args: str) -> Any:
        return runner.invoke(cli, ["--db", world.url, *args], env={"ONBOARD_ACTOR": ""})

    nobody = onboard("orders", "intent", "ORD-1001", "customer")
    assert nobody.exit_code == 2 and "actor" in nobody.stderr
    stranger = onboard("orders", "intent", "ORD-1001", "customer", "--actor", "x@example.com")
    assert stranger.exit_code == 2 and "no account with this e-mail" in stranger.stderr
    assert "an admin adds it with `onboard users add`" in stranger.stderr
    manager = onboard("orders", "intent", "ORD-1001", "customer", "--actor", MANAGER.email)
    assert manager.exit_code == 1 and "may not resolve orders" in manager.stderr
    done = onboard("orders", "intent", "ORD-1001", "customer", "--actor", OPERATOR.email)
    assert done.exit_code == 0, done.output
    added = onboard("users", "add", "new@example.com", "--role", "analyst", "--actor", ADMIN.email)
    assert added.exit_code == 0 and "password (shown once):" in added.stdout
    listed = onboard("users", "list", "--format", "json", "--actor", ADMIN.email)
    assert "new@example.com" in listed.stdout and "argon2" not in listed.stdout
    refused = onboard("users", "list", "--actor", OPERATOR.email)
    assert refused.exit_code == 1 and "may not manage accounts" in refused.stderr
    # A disabled account is told so, and who can enable it; not to add itself.
    disabled = onboard("users", "disable", "new@example.com", "--actor", ADMIN.email)
    assert disabled.exit_code == 0, disabled.output
    acting = onboard("train", "--actor", "new@example.com")
    assert acting.exit_code == 2 and "this account was disabled on" in acting.stderr
    assert "an admin can enable it again with `onboard users enable`" in acting.stderr
    assert "users add" not in acting.stderr
