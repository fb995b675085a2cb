"""The Queue page in AppTest: what an operator sees first and how they narrow it down.

The app runs from its entry script against a private SQLite database holding the mini
dataset (tests/fixtures/mini) plus one look-alike organization, so that ORD-1002 (a
domain match on acme.se) is a genuinely ambiguous match.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from provisioning.access import Actor
from provisioning.dataset import import_dataset
from provisioning.db import Database
from provisioning.models import OrderMatch
from provisioning.states import Role
from tests.conftest import FIXTURES
from tests.dashboard.conftest import account, signed_in_app

OPERATOR = "operator@example.com"


def write_dataset(directory: Path, given: dict[str, str]) -> Path:
    """A dataset directory; the required files not given are written empty."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "orgs.csv": "org_id,name,country,industry,created_at,status,partner_id\n",
        "domains.csv": "org_id,domain,status\n",
        "users.csv": "org_id,email,status,last_activity_at\n",
        "orders.csv": "order_id,placed_at,partner_id,provisioning_email,company_name,country\n",
    }
    files |= given
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


# A second org on acme.se with the company's exact name: the finder hesitates on ORD-1002.
LOOKALIKE = {
    "orgs.csv": "org_id,name,country,industry,created_at,status,partner_id\n"
    "org-acme-ops,Acme Logistik,SE,Transportation,2020-04-01,active,\n",
    "domains.csv": "org_id,domain,status\norg-acme-ops,acme.se,verified\n",
    "users.csv": "org_id,email,status,last_activity_at\n"
    "org-acme-ops,mats.ops@acme.se,active,2026-11-21T09:00:00Z\n"
    "org-acme-ops,eva.ops@acme.se,active,2026-11-19T09:00:00Z\n"
    "org-acme-ops,bo.ops@acme.se,active,2026-11-15T09:00:00Z\n",
}


@pytest.fixture
def app_db(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """An empty database the app is pointed at; the app's per-process caches start empty."""
    monkeypatch.setenv("ONBOARD_DATABASE_URL", sqlite_url)
    st.cache_data.clear()
    st.cache_resource.clear()
    db = Database(sqlite_url)
    db.ensure_schema()
    account(db)  # the operator every test signs in as
    yield db
    st.cache_data.clear()
    st.cache_resource.clear()
    db.dispose()


@pytest.fixture
def mini(app_db: Database, tmp_path: Path) -> Database:
    import_dataset(app_db, FIXTURES / "mini", OPERATOR)
    import_dataset(app_db, write_dataset(tmp_path / "lookalike", LOOKALIKE), OPERATOR)
    return app_db


def run(target: AppTest | Any) -> AppTest:
    """Run the app (or the app of a widget just set); no page may raise."""
    at = target.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def queue_app(lang: str = "en", **params: str) -> AppTest:
    at = signed_in_app(Actor(OPERATOR, Role.OPERATOR), lang)
    for name, value in params.items():
        at.query_params[name] = value
    return run(at)


def order_ids(at: AppTest) -> list[str]:
    frames = [frame for frame in at.dataframe if frame.key == "queue_table"]
    return list(frames[0].value["order_id"]) if frames else []


def metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def test_empty_database_says_nothing_waits(app_db: Database) -> None:
    at = queue_app()
    assert at.title[0].value == "Queue"
    assert "No orders need a person" in at.info[0].value
    assert metrics(at)["Need an operator"] == "0"


def test_scoring_puts_the_ambiguous_domain_match_before_the_exact_ones(mini: Database) -> None:
    at = queue_app()
    assert order_ids(at) == ["ORD-1001", "ORD-1002", "ORD-1003", "ORD-1004", "ORD-1005"]
    assert metrics(at)["Not scored yet"] == "5"

    run(at.button(key="queue_score").click())
    assert at.success[0].value == "5 orders scored."
    ids = order_ids(at)
    assert ids[0] == "ORD-1002"
    assert ids.index("ORD-1002") < ids.index("ORD-1001") < ids.index("ORD-1005")
    first = at.dataframe[0].value.iloc[0]
    assert (first["outcome"], first["review"]) == (
        "Domain matches",
        "Ambiguous: an operator decides",
    )
    assert first["recommended"] == "Acme Logistik AB"
    assert metrics(at)["Need an operator"] == "1"
    assert metrics(at)["Not scored yet"] == "0"
    assert not [b for b in at.button if b.key == "queue_score"]  # nothing left to score


def test_teaching_first_puts_the_least_confident_first(mini: Database) -> None:
    at = queue_app()
    run(at.button(key="queue_score").click())
    with mini.write() as session:  # two answers the finder doubts, in the same band
        for order_id, confidence in (("ORD-1001", 0.9), ("ORD-1005", 0.6)):
            match = session.get_one(OrderMatch, order_id)
            match.confidence, match.review = confidence, "confirm"
    st.cache_data.clear()
    run(at)
    ids = order_ids(at)
    assert ids.index("ORD-1001") < ids.index("ORD-1005")  # oldest first
    run(at.toggle(key="queue_teaching_first").set_value(True))
    ids = order_ids(at)
    assert ids.index("ORD-1005") < ids.index("ORD-1001")  # least sure first


def test_search_narrows_by_email_company_or_order(mini: Database) -> None:
    at = queue_app()
    run(at.text_input(key="queue_search").input("sjoberg-media"))
    assert order_ids(at) == ["ORD-1003"]
    run(at.text_input(key="queue_search").input("lichtenwerk"))
    assert order_ids(at) == ["ORD-1005"]
    run(at.text_input(key="queue_search").input("ord-1004"))
    assert order_ids(at) == ["ORD-1004"]
    run(at.text_input(key="queue_search").input("nobody-like-this"))
    assert order_ids(at) == []
    assert at.info[0].value == "No order matches these filters."


def test_drill_down_parameters_set_the_filters(mini: Database) -> None:
    at = queue_app(partner="org-fjord", service="meetings")
    assert order_ids(at) == ["ORD-1001", "ORD-1003"]
    assert at.selectbox(key="queue_partner").value == "org-fjord"
    assert at.selectbox(key="queue_service").value == "meetings"

    at = queue_app(country="de")
    assert order_ids(at) == ["ORD-1005"]
    assert at.selectbox(key="queue_country").value == "DE"

    # The operator may widen the filters after the drill-down.
    run(at.selectbox(key="queue_country").select(None))
    assert len(order_ids(at)) == 5


def test_state_and_age_filters(mini: Database) -> None:
    at = queue_app(state="awaiting_intent")
    assert at.multiselect(key="queue_states").value == ["awaiting_intent"]
    assert len(order_ids(at)) == 5
    run(at.multiselect(key="queue_states").select("delegated").unselect("awaiting_intent"))
    assert order_ids(at) == []
    run(at.multiselect(key="queue_states").unselect("delegated"))
    run(at.number_input(key="queue_min_age").set_value(10_000))
    assert order_ids(at) == []


def test_selecting_a_row_or_typing_an_id_opens_the_order(mini: Database) -> None:
    at = queue_app()
    at.session_state["queue_table"] = {"selection": {"rows": [2], "columns": [], "cells": []}}
    run(at)
    assert at.title[0].value == "Sjöberg Media AB"  # ORD-1003, the third row
    assert at.query_params["order"] == "ORD-1003"

    at = queue_app()
    at.text_input(key="queue_open_id").input("ORD-1005")  # in a form: sent by its button
    run(at.button(key="queue_open").click())
    assert at.title[0].value == "Lichtenwerk GmbH"


def test_pages_of_fifty(app_db: Database, tmp_path: Path) -> None:
    orders = "".join(
        f"ORD-{n:04d},2026-10-{1 + n % 28:02d},,buyer{n}@firm{n}.se,Firm {n} AB,SE\n"
        for n in range(55)
    )
    head = "order_id,placed_at,partner_id,provisioning_email,company_name,country\n"
    lines = "order_id,service,quantity,is_trial_conversion,is_addon\n" + "".join(
        f"ORD-{n:04d},meetings,5,false,false\n" for n in range(55)
    )
    many = write_dataset(tmp_path / "many", {"orders.csv": head + orders, "order_lines.csv": lines})
    import_dataset(app_db, many, OPERATOR)
    at = queue_app()
    assert len(order_ids(at)) == 50
    assert any("Orders 1–50 of 55" in caption.value for caption in at.caption)
    run(at.button(key="queue_next").click())
    assert len(order_ids(at)) == 5
    assert at.button(key="queue_next").disabled
    run(at.button(key="queue_previous").click())
    assert len(order_ids(at)) == 50


def test_swedish_labels(mini: Database) -> None:
    at = queue_app(lang="sv")
    assert at.title[0].value == "Kö"
    assert "Behöver en handläggare" in metrics(at)
    assert set(at.dataframe[0].value["state"]) == {"Väntar på uppgift om vem beställningen gäller"}
    run(at.button(key="queue_score").click())
    assert at.success[0].value == "5 beställningar bedömda."
