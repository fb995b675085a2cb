"""Signed in stays signed in: a reload, a new tab and a link from another site open the
app signed in, from an HttpOnly, SameSite=Strict cookie; signing out ends it everywhere."""

from __future__ import annotations

import time

import pytest

from provisioning.access import sessions
from tests.e2e.conftest import OPERATOR, sign_in, wait_idle

pytestmark = pytest.mark.browser


def _session_cookie(context, present: bool = True) -> dict | None:
    """The browser's sign-in cookie once it is there (or gone), within ten seconds."""
    deadline = time.monotonic() + 10
    while True:
        found = [c for c in context.cookies() if c["name"] == sessions.COOKIE_NAME]
        if bool(found) == present or time.monotonic() > deadline:
            return found[0] if found else None
        time.sleep(0.2)


def _signed_in_as(page, email: str) -> bool:
    return page.locator(".st-key-sign_out").count() == 1 and (
        page.get_by_text(f"Signed in as {email}").count() > 0
    )


def _shows_sign_in(page) -> bool:
    return page.locator(".st-key-sign_in_email input").count() == 1


def test_a_reload_a_new_tab_and_a_link_stay_signed_in_until_sign_out(
    open_page, app_url: str
) -> None:
    page = open_page("/")
    assert _shows_sign_in(page)
    sign_in(page, OPERATOR)
    context = page.context

    cookie = _session_cookie(context)
    assert cookie is not None, "the sign-in did not hand the browser its cookie"
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert not cookie["secure"]  # ONBOARD_PUBLIC_URL is http here; https makes it Secure
    assert 9.9 * 3600 < cookie["expires"] - time.time() <= 10 * 3600  # a working day
    assert cookie["value"].startswith(sessions.TOKEN_PREFIX)
    assert sessions.COOKIE_NAME not in page.evaluate("document.cookie")  # no script sees it

    page.reload()
    wait_idle(page)
    assert _signed_in_as(page, OPERATOR) and not _shows_sign_in(page)
    assert page.get_by_role("heading", name="Queue").first.is_visible()

    tab = context.new_page()
    tab.goto(f"{app_url}/order?order=ORD-1001")
    wait_idle(tab)
    assert _signed_in_as(tab, OPERATOR) and not _shows_sign_in(tab)
    assert "ORD-1001" in tab.locator("[data-testid='stMain']").inner_text()

    # A link in another tool (another site: localhost is not 127.0.0.1) opens signed in.
    other_site = app_url.replace("127.0.0.1", "localhost")
    tool = context.new_page()
    tool.goto(f"{other_site}/_stcore/health")
    tool.set_content(f'<a id="open" href="{app_url}/order?order=ORD-1002">ORD-1002</a>')
    tool.click("#open")
    wait_idle(tool)
    assert tool.url.startswith(app_url) and _signed_in_as(tool, OPERATOR)

    page.locator(".st-key-sign_out button").click()
    page.locator(".st-key-sign_in_email input").wait_for()
    assert _session_cookie(context, present=False) is None  # the browser dropped it
    page.reload()
    wait_idle(page)
    assert _shows_sign_in(page)
    for other in (tab, tool):  # the session ended for every tab, not just this one
        other.reload()
        wait_idle(other)
        assert _shows_sign_in(other) and not _signed_in_as(other, OPERATOR)
