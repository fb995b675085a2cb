"""The app starts and lists orders, on an empty database and on one with orders."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from provisioning.db import Database
from provisioning.models import Order, Org

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture
def app_db(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("ONBOARD_DATABASE_URL", sqlite_url)
    db = Database(sqlite_url)
    db.ensure_schema()
    return db


def _run() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    return at


def test_empty_database_says_how_to_load_orders(app_db: Database) -> None:
    at = _run()
    assert at.title[0].value == "Orders"
    assert "No orders yet" in at.info[0].value


def test_orders_are_listed_and_filtered_by_state(app_db: Database) -> None:
    placed = datetime(2026, 11, 20, 10, tzinfo=UTC)
    with app_db.write() as session:
        session.add(
            Org(
                org_id="p1",
                name="Fjord Collab AS",
                name_key="fjord collab",
                created_at=placed,
                status="active",
            )
        )
        session.add(
            Order(
                order_id="ORD-1",
                placed_at=placed,
                partner_id="p1",
                provisioning_email="a@acme.se",
                company_name="Acme AB",
            )
        )
        session.add(
            Order(
                order_id="ORD-2",
                placed_at=placed,
                provisioning_email="b@b.se",
                company_name="B AB",
                state="awaiting_org",
                intent="customer",
            )
        )
    at = _run()
    frame = at.dataframe[0].value
    assert set(frame["order_id"]) == {"ORD-1", "ORD-2"}
    assert frame.set_index("order_id").loc["ORD-1", "partner_name"] == "Fjord Collab AS"
    assert at.metric[0].value == "1"  # awaiting org

    at.selectbox(key="orders_state").select("awaiting_org").run()
    assert list(at.dataframe[0].value["order_id"]) == ["ORD-2"]
