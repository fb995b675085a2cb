"""The app as a person first meets it: it starts on the sign-in page, shows the queue
once they are signed in, speaks Swedish."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import OPERATOR, sign_in, wait_idle

pytestmark = pytest.mark.browser


def test_the_app_opens_on_the_queue_with_the_waiting_orders(open_page) -> None:
    page = open_page("/")
    assert page.get_by_role("heading", name="Sign in").first.is_visible()
    sign_in(page, OPERATOR)
    assert page.get_by_role("heading", name="Queue").first.is_visible()
    # The table is drawn on a canvas: its rows are not DOM text, its caption is.
    assert page.locator("[data-testid='stDataFrame']").first.is_visible()
    assert page.get_by_text("of 6").first.is_visible()


def test_switching_to_swedish_changes_the_labels(open_page) -> None:
    page = open_page("/")
    page.get_by_label("Language / Språk").first.click()
    page.get_by_role("option", name="Svenska").click()
    wait_idle(page)
    assert page.get_by_role("heading", name="Logga in").first.is_visible()
    sign_in(page, OPERATOR)
    assert page.get_by_role("heading", name="Kö").first.is_visible()
    assert page.get_by_text("Drift").first.is_visible()  # the navigation's section
