"""Sign-in sessions in the app: a password sign-in starts one, the admin's Accounts page
lists who is signed in and ends a session, and the person is signed out at their next
click; signing out ends the session. (The cookie itself is a browser's business:
tests/e2e/test_sessions.py.)"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from provisioning.access import accounts, sessions
from provisioning.db import Database
from provisioning.states import Role
from tests.dashboard.conftest import account, signed_in_app

pytestmark = pytest.mark.db

PASSWORD = "a-long-enough-password"
DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"


@pytest.fixture
def app_db(db: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("ONBOARD_DATABASE_URL", db.url)
    return db


def run(target: AppTest | Any) -> AppTest:
    at = target.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def signed_in_with_password(email: str) -> AppTest:
    at = run(signed_in_app(None))
    at.text_input(key="sign_in_email").input(email)
    at.text_input(key="sign_in_password").input(PASSWORD)
    run(at.button(key="sign_in_submit").click())
    assert at.sidebar.button(key="sign_out"), "not signed in"
    return at


def live(at: AppTest) -> Any:
    """The Accounts page's second table: who is signed in now."""
    return at.dataframe[1].value


def signed_in(at: AppTest) -> bool:
    return any(b.key == "sign_out" for b in at.sidebar.button)


def test_the_admin_sees_who_is_signed_in_and_ends_a_session(app_db: Database) -> None:
    account(app_db, Role.OPERATOR, email="kim@example.com", password=PASSWORD)
    account(app_db, Role.ADMIN, email="ada@example.com", password=PASSWORD)
    kim = signed_in_with_password("kim@example.com")
    kim_phone = signed_in_with_password("kim@example.com")
    admin = signed_in_with_password("ada@example.com")
    run(admin.switch_page("views/accounts.py"))

    table = live(admin)
    assert sorted(table["E-mail"]) == ["ada@example.com", "kim@example.com", "kim@example.com"]
    assert "Signed in now" in [h.value for h in admin.subheader]
    kim_ids = sorted(
        int(i) for i, e in zip(table["Session"], table["E-mail"], strict=True) if "kim" in e
    )

    admin.selectbox(key="accounts_session_pick").select(kim_ids[0])
    run(admin.button(key="accounts_session_end").click())
    assert admin.success[0].value == (
        f"Session {kim_ids[0]} of kim@example.com ended: they must sign in again."
    )
    assert kim_ids[0] not in set(live(admin)["Session"])

    # Whichever tab held that session is signed out at its next click; the other is not.
    run(kim)
    run(kim_phone)
    assert sorted([signed_in(kim), signed_in(kim_phone)]) == [False, True]

    admin.selectbox(key="accounts_session_pick").select(kim_ids[1])
    run(admin.button(key="accounts_sessions_end").click())
    assert admin.success[0].value == "Sessions of kim@example.com ended: 1."
    assert set(live(admin)["E-mail"]) == {"ada@example.com"}
    run(kim)
    run(kim_phone)
    assert not signed_in(kim) and not signed_in(kim_phone)
    assert signed_in(run(admin))


def test_signing_out_ends_the_session(app_db: Database) -> None:
    account(app_db, Role.OPERATOR, email="kim@example.com", password=PASSWORD)
    at = signed_in_with_password("kim@example.com")
    admin = accounts.actor_for(app_db, "admin@example.com")
    assert [row.email for row in sessions.list_sessions(app_db, admin)] == ["kim@example.com"]
    run(at.sidebar.button(key="sign_out").click())
    assert not signed_in(at)
    assert sessions.list_sessions(app_db, admin) == []


def test_a_new_password_signs_the_open_tab_out(app_db: Database) -> None:
    account(app_db, Role.OPERATOR, email="kim@example.com", password=PASSWORD)
    at = signed_in_with_password("kim@example.com")
    admin = accounts.actor_for(app_db, "admin@example.com")
    accounts.set_password(app_db, admin, "kim@example.com", "another-long-password")
    run(at)
    assert not signed_in(at)


def test_only_the_cookie_hand_off_embeds_a_frame_and_it_carries_no_data() -> None:
    """`st.iframe` runs script in the app's origin: one call, in `dashboard.ui._post`,
    fed only a fixed route and the form it posts."""
    calls = []
    for path in sorted(DASHBOARD.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("iframe"):
                calls.append((path.name, ast.unparse(node)))
    assert calls == [("ui.py", "st.iframe(script, height=1)")]
