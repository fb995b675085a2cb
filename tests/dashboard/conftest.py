"""What every page test shares: the entry script, empty per-process caches, accounts to
sign in with, and opening a page through the router as a signed-in person does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from provisioning.access import Actor, accounts
from provisioning.db import Database
from provisioning.states import Role

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
ADMIN = "admin@example.com"
SIGNED_IN = "signed_in"  # dashboard.ui.ACTOR_KEY


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    """Settings and read models are cached per process: each test reads its own database."""
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def account(
    db: Database | str,
    role: Role = Role.OPERATOR,
    partner_id: str | None = None,
    email: str | None = None,
    password: str | None = None,
    now: datetime | None = None,
) -> Actor:
    """The actor of an account in `db`, added on first use (by the bootstrap admin).

    Without a password it is a single sign-on account: no hashing, so fixtures stay fast;
    the page tests sign in by putting the actor in the session, as the sign-in page does.
    """
    database = Database(db) if isinstance(db, str) else db
    database.ensure_schema()
    try:
        if not accounts.has_admin(database):
            accounts.add_account(database, None, ADMIN, Role.ADMIN, now=now)
        admin = accounts.actor_for(database, ADMIN)
        if role is Role.ADMIN and email is None:
            return admin
        address = email or f"{role.value.replace('_', '-')}@example.com"
        accounts.add_account(
            database, admin, address, role, partner_id=partner_id, password=password, now=now
        )
        return accounts.actor_for(database, address)
    finally:
        if isinstance(db, str):
            database.dispose()


def signed_in_app(actor: Actor | None, lang: str = "en") -> AppTest:
    """The app (not yet run) with `actor` signed in (None: nobody)."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["ui_lang"] = lang
    if actor is not None:
        at.session_state[SIGNED_IN] = actor
    return at


def open_view(
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    view: str,
    lang: str = "en",
    actor: Actor | None = None,
) -> AppTest:
    """The app on database `url`, signed in as `actor` (an operator unless given),
    switched to `views/<view>.py`, drawn without error."""
    monkeypatch.setenv("ONBOARD_DATABASE_URL", url)
    at = signed_in_app(actor or account(url), lang)
    at.run()
    at.switch_page(f"views/{view}.py").run()
    assert not at.exception, at.exception
    return at
