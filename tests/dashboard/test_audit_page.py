"""The Audit page: who did what and when, newest first, filters that narrow the rows,
50 to a page, before → after in one line, a formula-safe CSV of the whole filtered trail,
and Swedish labels."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.data import insights
from provisioning import audit
from provisioning.db import Database
from provisioning.demo.seed import create_demo
from provisioning.demo.world import WorldParams
from provisioning.models import AuditEvent
from tests.dashboard.conftest import account, open_view

OPERATOR = "operator@example.com"
START = datetime(2026, 3, 2, 8, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """The demo world's own events (import, generation), an operator's 60 mappings on
    2 March, one every 10 minutes, and on 1 March an event whose actor (imported from
    elsewhere) a spreadsheet would run as a formula; before it all, the operator's account
    (and the admin's who added it) were created."""
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('audit') / 'demo.sqlite'}")
    db.ensure_schema()
    account(db, now=START - timedelta(days=20))
    create_demo(
        db, WorldParams(orgs=200, seed=3, now=START - timedelta(days=10)), "demo@example.com"
    )
    with db.write() as session:
        session.add_all(
            AuditEvent(
                at=START + timedelta(minutes=10 * n),
                actor=OPERATOR,
                role="operator",
                action="order.map",
                entity_type="order",
                entity_id=f"ORD-9{n:03d}",
                before={"state": "awaiting_org", "org_id": None},
                after={"state": "org_mapped", "org_id": "o-1"},
            )
            for n in range(60)
        )
        session.add(
            AuditEvent(
                at=START - timedelta(days=1),
                actor="@SUM(1+1)*cmd|' /C calc'!A0",
                action="order.intent",
                entity_type="order",
                entity_id="ORD-0001",
            )
        )
    yield db
    db.dispose()


def _open(monkeypatch: pytest.MonkeyPatch, url: str, lang: str = "en") -> AppTest:
    return open_view(monkeypatch, url, "audit", lang)


def test_no_matching_event(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _open(monkeypatch, sqlite_url)  # a fresh trail: only the accounts' creation
    assert at.title[0].value == "Audit"
    at.text_input(key="audit_entity").input("ORD-").run()
    assert at.info[0].value == "No events match these filters."
    assert not at.dataframe and not at.get("download_button")


def test_newest_first_fifty_to_a_page_with_before_and_after(
    demo: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _open(monkeypatch, demo.url)
    rows = at.dataframe[0].value
    assert len(rows) == 50
    assert at.caption[0].value == "Events 1–50 of 65, newest first. Times in UTC."
    newest = rows.iloc[0]
    assert (newest["Who"], newest["What"], newest["Record ID"]) == (
        OPERATOR,
        "Mapped the order to an organization",
        "ORD-9059",
    )
    assert newest["When"] == "2 Mar 2026, 17:50 UTC"
    assert newest["Changes"] == "state: awaiting_org → org_mapped; org_id: — → o-1"
    assert at.get("download_button")[0].label == "Download as CSV"

    at.get("pagination")[0].set_value(2).run()
    assert at.caption[0].value == "Events 51–65 of 65, newest first. Times in UTC."
    assert set(at.dataframe[0].value["What"]) >= {"Imported a dataset", "Generated the demo world"}


def test_filters_narrow_the_rows(demo: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _open(monkeypatch, demo.url)
    at.selectbox(key="audit_action").select("dataset.import").run()
    rows = at.dataframe[0].value
    assert list(rows["What"]) == ["Imported a dataset"]
    assert not at.get("pagination")

    at.selectbox(key="audit_action").select(None)
    at.text_input(key="audit_entity").input("ord-900").run()
    assert sorted(at.dataframe[0].value["Record ID"]) == [f"ORD-900{n}" for n in range(10)]

    at.text_input(key="audit_entity").input("")
    at.selectbox(key="audit_actor").select("demo@example.com").run()
    assert set(at.dataframe[0].value["Who"]) == {"demo@example.com"}

    at.selectbox(key="audit_actor").select(None)
    at.date_input(key="audit_since").set_value(date(2026, 3, 3))
    at.date_input(key="audit_until").set_value(date(2026, 3, 1)).run()
    assert [e.value for e in at.error] == ["The end date is before the start date."]


def test_the_csv_is_the_whole_filtered_trail_and_formula_safe(demo: Database) -> None:
    where = audit.AuditFilter(actor=OPERATOR)
    reader = account(demo)
    text = insights.audit_csv(demo.url, reader, where, "sv")().decode("utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header == ["När", "Vem", "Roll", "Vad", "Post", "Post-id", "Ändringar"]
    assert len(rows) == 60  # every matching event, not only the first page
    assert rows[0][:6] == [
        "2026-03-02T17:50:00+00:00",
        OPERATOR,
        "Handläggare",
        "Kopplade beställningen till en organisation",
        "Beställning",
        "ORD-9059",
    ]
    everything = insights.audit_csv(demo.url, reader, audit.AuditFilter(), "en")()
    everything = everything.decode("utf-8-sig")
    (evil,) = [row for row in csv.reader(io.StringIO(everything)) if row[5] == "ORD-0001"]
    assert evil[1] == "'@SUM(1+1)*cmd|' /C calc'!A0"  # shown as text, never run
    cells = ["=1+1", "-2", -2, "\tx", "\rx", "a"]
    parsed = list(csv.reader(io.StringIO(insights.csv_bytes(["h"], [[c] for c in cells]).decode())))
    assert [row[0] for row in parsed[1:]] == ["'=1+1", "'-2", "-2", "'\tx", "'\rx", "a"]


def test_swedish_labels(demo: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _open(monkeypatch, demo.url, lang="sv")
    assert at.title[0].value == "Granskningslogg"
    rows = at.dataframe[0].value
    assert list(rows.columns) == ["När", "Vem", "Roll", "Vad", "Post", "Post-id", "Ändringar"]
    assert rows.iloc[0]["Vad"] == "Kopplade beställningen till en organisation"
    assert rows.iloc[0]["När"] == "2 mars 2026 17:50 UTC"
    assert at.get("download_button")[0].label == "Ladda ned som CSV"
