"""What the operator and the manager do in a real browser, end to end.

Each person first signs in. (a) an operator resolves an order with several domain
matches, sets up Meetings on two sites with the licences split, leaves Calling for later
and downloads the summary PDF; (b) a manager opens the backlog and sees its charts; (c) a
partner admin sees only its own customers' orders. Widgets are found by their Streamlit
keys (`.st-key-…`), which the pages keep stable for this.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from provisioning import orders
from provisioning.db import Database
from provisioning.models import MeetingsSite
from tests.e2e.conftest import MANAGER, OPERATOR, PARTNER_ADMIN, SCREENSHOTS, sign_in, wait_idle

pytestmark = pytest.mark.browser

ORDER = "ORD-2001"  # a partner's customer on acme.se: three orgs hold that domain


def _key(page, key: str):
    return page.locator(f".st-key-{key}")


def _click(page, key: str) -> None:
    _key(page, key).locator("button").first.click()
    wait_idle(page)


def _tab(page, name: str) -> None:
    """Open a tab. A rerun still under way draws the tabs afresh (first tab selected),
    so the click is repeated until the tab stays selected."""
    tab = page.get_by_role("tab", name=name)
    for _attempt in range(5):
        wait_idle(page)
        tab.click()
        page.wait_for_timeout(500)
        if tab.get_attribute("aria-selected") == "true":
            break
    expect(tab).to_have_attribute("aria-selected", "true")


def _shows(page, text: str) -> None:
    """Wait for what an action leads to: the app is slow to answer on a busy machine,
    and the next click must not land in the middle of the rerun."""
    expect(page.get_by_text(text).first).to_be_visible(timeout=30_000)
    wait_idle(page)


def _type(page, key: str, value: str) -> None:
    field = _key(page, key).locator("input").first
    field.fill(value)
    field.press("Enter")
    wait_idle(page)


def test_an_operator_takes_an_ambiguous_order_to_its_summary_pdf(
    open_page, app_database: str
) -> None:
    page = open_page(f"/order?order={ORDER}")
    sign_in(page, OPERATOR)  # the link opens once the operator is signed in

    _key(page, "intent_choice").get_by_text("For a customer").click()
    _click(page, "intent_save")
    # The finder: domain matches, the candidates side by side with their evidence.
    expect(page.get_by_text("We found matching organizations based on your e-mail")).to_be_visible(
        timeout=30_000
    )
    expect(_key(page, "finder_choose_org-acme-test")).to_have_count(1)  # an abandoned trial
    _click(page, "finder_choose_org-acme")
    _shows(page, "Mapped to an organization")

    # Meetings: two sites, 40 + 20 of the order's 60 licences.
    _tab(page, "Webex Meetings")
    _type(page, "meetings_site_name_1", "acme-nord")
    _type(page, "meetings_site_licences_1", "40")
    _click(page, "meetings_add_site")
    expect(_key(page, "meetings_site_name_2")).to_be_visible(timeout=30_000)
    _type(page, "meetings_site_name_2", "acme-syd")
    _type(page, "meetings_site_licences_2", "20")
    expect(page.get_by_text("60 of 60 licences distributed")).to_be_visible(timeout=30_000)
    _click(page, "meetings_save")
    _shows(page, "Webex Meetings is set up.")

    _tab(page, "Webex Calling")
    _click(page, "calling_later")
    _shows(page, "Webex Calling will be configured later.")

    _tab(page, "Review and summary")
    button = _key(page, "order_pdf").locator("button")
    expect(button).to_be_visible()
    with page.expect_download() as download:
        button.click()
    pdf = download.value.path().read_bytes()
    assert pdf.startswith(b"%PDF")

    db = Database(app_database)
    try:
        with db.read() as session:
            detail = orders.order_detail(session, ORDER, 30)
            sites = session.scalars(
                select(MeetingsSite.name).where(MeetingsSite.order_id == ORDER)
            ).all()
    finally:
        db.dispose()
    assert detail["org_id"] == "org-acme" and detail["decided_by"] == OPERATOR
    assert detail["services"]["meetings"]["state"] == "provisioned"
    assert detail["services"]["calling"]["state"] == "configure_later"
    assert sorted(sites) == ["acme-nord", "acme-syd"]


def test_a_manager_opens_the_backlog_and_sees_the_charts(open_page) -> None:
    page = open_page("/backlog")
    sign_in(page, MANAGER)
    page.wait_for_selector("[data-testid='stPlotlyChart']")
    assert page.locator("[data-testid='stPlotlyChart']").count() >= 3
    assert page.get_by_text("Open orders").first.is_visible()


def test_a_partner_admin_sees_only_its_customers_orders(open_page) -> None:
    page = open_page("/")
    sign_in(page, PARTNER_ADMIN)
    # The table is drawn on a canvas: its caption tells what a search left in it.
    _type(page, "queue_search", "ORD-1003")  # its customer's order
    _shows(page, "Orders 1–1 of 1")
    _type(page, "queue_search", "ORD-1002")  # a direct order: not the partner's business
    _shows(page, "No order matches these filters.")
    _type(page, "queue_search", "")
    _shows(page, "Orders 1–")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "partner_admin_queue.png"), full_page=True)
    _key(page, "queue_open_id").locator("input").first.fill("ORD-1002")
    _click(page, "queue_open")
    _shows(page, "There is no order ORD-1002.")
