"""Access control in the app: nothing without signing in, each role its pages and its
buttons, a partner admin only its own customers — and the source rules that keep every
read of the dashboard checked and scoped (no unscoped read, no cache shared across
people, no HTML from data, every CSV formula-safe).

The mini dataset: org-fjord is the partner of ORD-1001, ORD-1003 and ORD-1004; ORD-1002
and ORD-1005 are direct orders. org-fjord manages org-acme and org-nordvik.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.data import insights, operations
from provisioning import audit, orders
from provisioning.access import Actor, accounts
from provisioning.dataset import import_dataset
from provisioning.db import Database
from provisioning.errors import Forbidden, NotFound
from provisioning.models import Order
from provisioning.orders.queue import QueueFilter
from provisioning.states import Role
from tests.conftest import FIXTURES
from tests.dashboard.conftest import account, signed_in_app

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "dashboard"
PASSWORD = "correct horse battery staple"
PARTNER = "org-fjord"
PARTNER_ORDERS = ["ORD-1001", "ORD-1003", "ORD-1004"]
# Each role's pages, as the navigation lists them (views/<name>.py).
PAGES = {
    Role.OPERATOR: {"queue", "order", "backlog", "audit"},
    Role.MANAGER: {"queue", "order", "backlog", "audit", "matching"},
    Role.ANALYST: {"queue", "order", "backlog", "matching"},
    Role.PARTNER_ADMIN: {"queue", "order"},
    Role.ADMIN: {"audit", "accounts"},
}


@pytest.fixture
def mini(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setenv("ONBOARD_DATABASE_URL", sqlite_url)
    db = Database(sqlite_url)
    db.ensure_schema()
    import_dataset(db, FIXTURES / "mini", "import@example.com")
    yield db
    st.cache_data.clear()
    db.dispose()


def run(target: AppTest | Any) -> AppTest:
    """Run the app (or the app of a widget just set); no page may raise."""
    at = target.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def pages(at: AppTest) -> set[str]:
    """The pages the navigation of the last run offered (AppTest keeps their registry)."""
    return {Path(info["script_path"]).stem for info in at._registered_pages.values()}


def order_page(actor: Actor, order_id: str) -> AppTest:
    at = signed_in_app(actor)
    at.switch_page("views/order.py")
    at.query_params["order"] = order_id
    return run(at)


def texts(at: AppTest) -> str:
    kinds = ("markdown", "caption", "info", "success", "warning", "error", "title")
    found: list[Any] = []

    def walk(node: Any) -> None:
        for child in getattr(node, "children", {}).values():
            if child.type in kinds:
                found.append(str(child.value))
            walk(child)

    walk(at.main)
    return "\n".join(found)


# --- signing in -------------------------------------------------------------------------


def test_signed_out_there_is_only_the_sign_in_page(mini: Database) -> None:
    at = signed_in_app(None)
    at.query_params["order"] = "ORD-1001"  # a deep link opens nothing either
    run(at)
    assert pages(at) == {"sign_in"}
    assert [t.value for t in at.title] == ["Sign in"]
    assert "Acme" not in texts(at) and not at.dataframe
    assert "onboard users add EMAIL --role admin" in texts(at)  # no account yet: how to start
    assert not [b for b in at.button if b.key == "sign_in_sso"]  # no [auth] in the secrets
    with pytest.raises(ValueError):
        at.switch_page("views/queue.py")


def test_a_wrong_password_is_refused_with_one_message_then_the_right_one_signs_in(
    mini: Database,
) -> None:
    account(mini, Role.OPERATOR, password=PASSWORD)
    at = run(signed_in_app(None))
    at.text_input(key="sign_in_email").input("operator@example.com")
    at.text_input(key="sign_in_password").input("not the password")
    run(at.button(key="sign_in_submit").click())
    assert [e.value for e in at.error] == [
        "Wrong e-mail or password, or the account is disabled or locked for a while."
    ]
    assert pages(at) == {"sign_in"} and at.text_input(key="sign_in_password").value == ""
    assert "onboard users add" not in texts(at)  # an admin exists: no first-admin hint

    at.text_input(key="sign_in_email").input("operator@example.com")
    at.text_input(key="sign_in_password").input(PASSWORD)
    run(at.button(key="sign_in_submit").click())
    assert pages(at) == PAGES[Role.OPERATOR]
    assert at.title[0].value == "Queue"
    assert "Signed in as operator@example.com (Operator)" in [c.value for c in at.sidebar.caption]
    assert "sign_in_password" not in at.session_state  # the password is never kept

    run(at.sidebar.button(key="sign_out").click())
    assert pages(at) == {"sign_in"}


def sso_app(user: dict[str, Any]) -> AppTest:
    """The app with single sign-on set up, the provider's groups claim mapped to roles."""
    at = signed_in_app(None)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback"}
    at.secrets["onboard_sso"] = {"role_claim": "groups", "roles": {"desk-analysts": "analyst"}}
    at.user = user
    return at


def test_single_sign_on_is_offered_and_maps_the_identity_to_a_role(mini: Database) -> None:
    at = run(sso_app({"is_logged_in": False}))
    assert at.button(key="sign_in_sso").label == "Sign in with single sign-on"

    claims = {"is_logged_in": True, "email": "ana@example.com", "groups": ["desk-analysts"]}
    at = run(sso_app(claims))
    assert pages(at) == PAGES[Role.ANALYST]  # no account: the role comes from the claim

    account(mini, Role.MANAGER, email="ana@example.com")
    st.cache_data.clear()
    assert pages(run(sso_app(claims))) == PAGES[Role.MANAGER]  # an account wins

    at = run(sso_app({"is_logged_in": True, "email": "eve@example.com", "groups": ["x"]}))
    assert pages(at) == {"sign_in"}
    assert [e.value for e in at.error] == [
        "eve@example.com has no account here and no role from single sign-on."
    ]
    assert at.button(key="sign_in_sso_out").label == "Sign out of single sign-on"


def test_a_disabled_account_is_signed_out_at_its_next_click(mini: Database) -> None:
    operator = account(mini)
    at = run(signed_in_app(operator))
    assert at.title[0].value == "Queue"
    accounts.set_disabled(mini, account(mini, Role.ADMIN), operator.email, True)
    run(at)
    assert pages(at) == {"sign_in"}


# --- roles --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(PAGES), ids=lambda role: role.value)
def test_each_role_sees_exactly_its_pages(mini: Database, role: Role) -> None:
    partner = PARTNER if role is Role.PARTNER_ADMIN else None
    at = run(signed_in_app(account(mini, role, partner_id=partner)))
    assert pages(at) == PAGES[role]


def test_only_a_role_that_runs_the_finder_may_score_the_queue(mini: Database) -> None:
    operator = run(signed_in_app(account(mini)))
    manager = run(signed_in_app(account(mini, Role.MANAGER)))
    assert operator.button(key="queue_score")
    assert not [b for b in manager.button if b.key == "queue_score"]


def forced_mapping() -> None:
    """A page script that calls `perform` whatever the role: what a stale or forged click
    would reach."""
    import streamlit as st

    from dashboard.data import operations
    from provisioning import orders

    if not st.session_state.get("tried"):
        st.session_state["tried"] = True
        operations.perform("finder", orders.map_org, "ORD-1002", "org-acme", done="Mapped.")
    refusal = operations.refusal("finder")
    st.error(refusal.message if refusal else "no refusal")


def test_a_forced_action_of_a_manager_is_refused_by_the_service(mini: Database) -> None:
    orders.set_intent(mini, "ORD-1002", "own-company", account(mini))
    at = AppTest.from_function(forced_mapping, default_timeout=60)
    at.session_state["signed_in"] = account(mini, Role.MANAGER)
    run(at)
    assert [e.value for e in at.error] == ["Your role does not allow this; nothing was changed."]
    with mini.read() as session:
        assert session.get_one(Order, "ORD-1002").state == "awaiting_org"


# --- a partner admin ------------------------------------------------------------------------


@pytest.fixture
def partner(mini: Database) -> Actor:
    orders.set_intent(mini, "ORD-1001", "customer", account(mini))  # to the finder
    return account(mini, Role.PARTNER_ADMIN, partner_id=PARTNER)


def test_a_partner_admin_queue_holds_only_its_customers_orders(
    mini: Database, partner: Actor
) -> None:
    at = run(signed_in_app(partner))
    listed = next(frame for frame in at.dataframe if frame.key == "queue_table")
    assert sorted(listed.value["order_id"]) == PARTNER_ORDERS
    assert at.selectbox(key="queue_partner").options == [
        "All partners",
        "Fjord Collaboration Partners AS",
    ]
    everyone = operations.queue_page(mini.url, account(mini), QueueFilter())
    assert {row.order_id for row in everyone.rows} > set(PARTNER_ORDERS)  # others exist


def test_another_partners_order_is_not_found(mini: Database, partner: Actor) -> None:
    at = order_page(partner, "ORD-1002")
    assert [e.value for e in at.error] == ["There is no order ORD-1002."]
    assert "mats.ny@acme.se" not in texts(at)
    with pytest.raises(NotFound):
        operations.summary_pdf(mini.url, partner, "ORD-1002", "en")()
    with pytest.raises(NotFound):
        operations.match_view(mini.url, partner, "ORD-1002")


def test_a_partner_admin_sees_only_its_customers_orgs_in_the_finder_and_search(
    mini: Database, partner: Actor
) -> None:
    operator = order_page(account(mini), "ORD-1001")
    at = order_page(partner, "ORD-1001")
    chosen = {key for key in (b.key or "" for b in at.button) if key.startswith("finder_choose_")}
    everyone = {key for key in (b.key or "" for b in operator.button) if key.startswith("finder_")}
    assert chosen == {"finder_choose_org-acme"} < everyone

    run(at.text_input(key="org_search_text").input("acme"))
    picks = {b.key for b in at.button if (b.key or "").startswith("org_search_pick_")}
    assert picks == {"org_search_pick_org-acme"}
    hits = operations.search_orgs(mini.url, account(mini), "acme")
    assert {hit.org_id for hit in hits} > {"org-acme"}  # the operator finds the others


def test_a_partner_admin_has_no_export_of_the_backlog_or_the_trail(
    mini: Database, partner: Actor
) -> None:
    with pytest.raises(Forbidden):
        insights.backlog_view(mini.url, partner, 14, 14)
    with pytest.raises(Forbidden):
        insights.audit_csv(mini.url, partner, audit.AuditFilter(), "en")


# --- accounts ---------------------------------------------------------------------------------


def test_the_admin_adds_an_account_and_sees_its_password_once(mini: Database) -> None:
    at = signed_in_app(account(mini, Role.ADMIN))
    run(at).switch_page("views/accounts.py")
    run(at)
    at.text_input(key="accounts_add_email").input("nova@example.com")
    at.text_input(key="accounts_add_name").input("Nova Operator")
    at.selectbox(key="accounts_add_role").select("operator")
    run(at.button(key="accounts_add").click())
    assert at.success[0].value == "Account nova@example.com added."
    assert "shown only this once" in at.warning[0].value
    password = at.code[0].value
    assert accounts.sign_in(mini, "nova@example.com", password).role is Role.OPERATOR
    table = at.dataframe[0].value
    assert "nova@example.com" in set(table["E-mail"])

    run(at)
    assert not at.code  # gone with the next click

    at.selectbox(key="accounts_pick").select("nova@example.com")
    run(at.button(key="accounts_toggle").click())
    assert at.success[0].value == "nova@example.com can no longer sign in."
    assert at.button(key="accounts_toggle").label == "Enable"


# --- the rules that keep it so ------------------------------------------------------------------


def _sources() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text())) for path in sorted(DASHBOARD.rglob("*.py"))]


def _called(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def test_every_read_of_the_dashboard_goes_through_the_viewers_checked_session() -> None:
    """No session opened on the database directly (`db.read()`), and the database itself
    handed only to a service together with the viewer (`queue_for(database(url), viewer,
    …)`: the service checks the viewer's permission and scopes the session) or reached
    through `dashboard.data.checked_database`, which checks it first."""
    gateway = DASHBOARD / "data" / "__init__.py"
    offenders = []
    for path, tree in _sources():
        with_viewer = {
            id(arg)
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and any(isinstance(a, ast.Name) and a.id == "viewer" for a in node.args)
            for arg in node.args
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _called(node)
            if name in {"read", "write", "write_connection", "connect"}:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} .{name}()")
            if name == "database" and path != gateway and id(node) not in with_viewer:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} database()")
            if name == "current_database" and path.parent.name == "views":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} current_database()")
    assert offenders == []


def test_every_cached_read_is_keyed_by_its_viewer() -> None:
    """A partner's cached page must never be served to someone else."""
    unkeyed = []
    for path, tree in _sources():
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            cached = any("cache_data" in ast.unparse(d) for d in node.decorator_list)
            viewer = [a for a in node.args.args if a.arg == "viewer"]
            if cached and not (viewer and ast.unparse(viewer[0].annotation) == "Actor"):
                unkeyed.append(f"{path.relative_to(ROOT)}:{node.name}")
    assert unkeyed == []


def test_no_html_from_data_and_every_csv_is_formula_safe() -> None:
    """Every CSV is written by `insights.csv_bytes` (each cell through `safe_cell`), and
    each CSV download serves one of `insights`' files."""
    csv_writers, csv_downloads = [], []
    for path, tree in _sources():
        source = path.read_text()
        assert "unsafe_allow_html" not in source and "st.html" not in source, path
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                inner = {_called(n) for n in ast.walk(node) if isinstance(n, ast.Call)}
                if inner & {"writer", "to_csv", "DictWriter"}:
                    csv_writers.append(node.name)
            is_call = isinstance(node, ast.Call) and _called(node) == "download_button"
            if is_call and "text/csv" in ast.unparse(node):
                csv_downloads.append(ast.unparse(node.args[1]))
    assert csv_writers == ["csv_bytes"]
    assert len(csv_downloads) == 2
    assert all(data.startswith("insights.") and "_csv(" in data for data in csv_downloads)


def test_production_settings() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"] == {"showErrorDetails": "none", "toolbarMode": "viewer"}
    assert config["runner"]["magicEnabled"] is False
    assert config["server"]["headless"] is True
    assert config["browser"]["gatherUsageStats"] is False


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (
            {"ONBOARD_DATABASE_URL": "postgresql://u@127.0.0.1:1/x"},
            "cannot reach the database",
        ),
        ({"ONBOARD_SMTP_PORT": "abc"}, "ONBOARD_SMTP_PORT: must be a whole number"),
    ],
)
def test_an_unreachable_database_or_a_bad_setting_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, setting: dict[str, str], expected: str
) -> None:
    for name, value in setting.items():
        monkeypatch.setenv(name, value)
    at = signed_in_app(None)
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] and expected in at.error[0].value
    assert len(at.error) == 1


def test_a_damaged_database_file_is_one_line_with_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    damaged = tmp_path / "damaged.sqlite"
    damaged.write_bytes(b"not a database at all " * 300)
    monkeypatch.setenv("ONBOARD_DATABASE_URL", f"sqlite:///{damaged}")
    at = signed_in_app(None)
    at.run()
    assert not at.exception
    assert "restore it from a backup" in at.error[0].value
