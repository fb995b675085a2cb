"""The Backlog page as a manager uses it: the headline numbers are the service's, the
charts are drawn, filters narrow them, a bucket opens in the Queue, the list of orders to
chase downloads as a CSV a spreadsheet cannot run, and Swedish works."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.data import insights
from provisioning.db import Database
from provisioning.demo.seed import create_demo
from provisioning.demo.world import WorldParams
from provisioning.reports import backlog
from provisioning.reports.backlog import BacklogFilter
from tests.dashboard.conftest import open_view

TILES = (
    "Open",
    "Pending",
    "Delegated",
    "Configure later",
    "At risk",
    "Past SLA",
    "Waiting on the customer",
    "Waiting on support",
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A demo world, built once for the module (it takes seconds). Its clock is now, so
    the page (which reads the backlog as of now) and the service agree on every age."""
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('backlog') / 'demo.sqlite'}")
    db.ensure_schema()
    create_demo(db, WorldParams(orgs=200, seed=3, now=datetime.now(UTC)), "demo@example.com")
    yield db
    db.dispose()


def _open(monkeypatch: pytest.MonkeyPatch, url: str, lang: str = "en") -> AppTest:
    return open_view(monkeypatch, url, "backlog", lang)


def _tiles(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def _figures(at: AppTest) -> dict[str, dict]:
    charts = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    return {chart["layout"]["title"]["text"]: chart for chart in charts}


def _expected(db: Database, sla_days: int = 14, where: BacklogFilter | None = None) -> dict:
    where = where or BacklogFilter()
    with db.read() as session:
        counts = backlog.counts(session, sla_days, where=where)
    numbers = (
        counts.open,
        counts.pending,
        counts.delegated,
        counts.configure_later,
        counts.at_risk,
        counts.past_sla,
        counts.waiting_on_customer,
        counts.waiting_on_support,
    )
    return {title: f"{n:,}" for title, n in zip(TILES, numbers, strict=True)}


def test_an_empty_database_shows_zeros_and_empty_charts(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    Database(sqlite_url).ensure_schema()
    at = _open(monkeypatch, sqlite_url)
    assert at.title[0].value == "Backlog"
    assert _tiles(at) == dict.fromkeys(TILES, "0")
    assert "No open orders" in at.info[0].value
    assert len(_figures(at)) == 6
    assert not at.get("download_button")  # nothing to chase, nothing to download


def test_the_demo_world_backlog_is_the_services(
    demo: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _open(monkeypatch, demo.url)
    assert _tiles(at) == _expected(demo)
    assert int(_tiles(at)["Open"]) > 0
    figures = _figures(at)
    assert set(figures) == {
        "Open orders by state",
        "Age of open orders",
        "Orders opened and completed per week",
        "Open orders by partner",
        "Services of open orders",
        "Open orders by country or region",
        "Decisions per week by the model's answer",  # tests/dashboard/test_model_watch_pages.py
    }
    by_state = figures["Open orders by state"]["data"]
    with demo.read() as session:
        counts = backlog.counts(session, 14)
    assert by_state[0]["x"] == [counts.by_state.get(s, 0) for s in backlog.OPEN_STATES]
    assert by_state[1]["y"] == ["Configure later", "Customer sets up"]
    assert by_state[1]["x"] == [counts.configure_later, counts.customer_self_setup]
    ages = figures["Age of open orders"]["layout"]
    assert ages["annotations"][0]["text"] == "SLA: 14 days"
    assert len(figures["Orders opened and completed per week"]["data"][0]["x"]) == 12
    assert at.dataframe[0].value.shape[0] > 0  # orders to chase
    assert at.get("download_button")[0].label == "Download as CSV"


def test_sla_and_filters_change_the_figures(
    demo: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _open(monkeypatch, demo.url)
    at.number_input(key="backlog_sla_days").set_value(30).run()
    assert _tiles(at)["Past SLA"] == _expected(demo, 30)["Past SLA"]
    assert _figures(at)["Age of open orders"]["layout"]["annotations"][0]["text"] == (
        "SLA: 30 days"
    )

    at.selectbox(key="backlog_partner").select_index(1).run()  # the partner with most orders
    partner_id = at.selectbox(key="backlog_partner").value
    assert _tiles(at) == _expected(demo, 30, BacklogFilter(partner_id=partner_id))
    assert _tiles(at)["Open"] != _expected(demo, 30)["Open"]


def test_a_bucket_opens_in_the_queue_with_the_filters(
    demo: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _open(monkeypatch, demo.url)
    at.selectbox(key="backlog_service").select("meetings")
    at.selectbox(key="backlog_bucket").select("awaiting_org").run()
    at.button(key="backlog_open_queue").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Queue"
    assert at.multiselect(key="queue_states").value == ["awaiting_org"]
    assert at.selectbox(key="queue_service").value == "meetings"


def test_the_orders_to_chase_csv_cannot_run_in_a_spreadsheet() -> None:
    rows = [
        {
            "order_id": "ORD-1",
            "company_name": '=HYPERLINK("http://evil")',
            "partner_name": "+Partner",
            "state": "delegated",
            "delegate_email": "@someone",
            "placed_at": datetime(2026, 3, 1, 9, tzinfo=UTC),
            "state_changed_at": datetime(2026, 3, 2, 9, tzinfo=UTC),
            "idle_days": -3,
            "at_risk": True,
        }
    ]
    text = insights.stale_csv(rows, "sv").decode("utf-8-sig")
    header, row = list(csv.reader(io.StringIO(text)))
    assert header[:4] == ["Order-id", "Företag", "Beställande partner", "Läge"]
    assert row[1] == '\'=HYPERLINK("http://evil")'
    assert (row[2], row[4]) == ("'+Partner", "'@someone")
    assert row[3] == "Delegerad till någon annan"
    assert (row[5], row[7], row[8]) == ("2026-03-01T09:00:00+00:00", "-3", "Ja")


def test_swedish_labels(demo: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _open(monkeypatch, demo.url, lang="sv")
    assert at.title[0].value == "Eftersläpning"
    assert [m.label for m in at.metric] == [
        "Öppna",
        "Väntande",
        "Delegerade",
        "Konfigurera senare",
        "I riskzonen",
        "Över SLA",
        "Väntar på kunden",
        "Väntar på supporten",
    ]
    figures = _figures(at)
    assert "Ålder på öppna beställningar" in figures
    assert figures["Öppna beställningar per läge"]["data"][0]["y"][1] == (
        "Delegerad till någon annan"
    )
    assert at.get("download_button")[0].label == "Ladda ned som CSV"
