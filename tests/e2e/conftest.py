"""End to end in a real headless Chromium (Debian's, driven by Playwright): the app is
started with `streamlit run` on a free port against its own SQLite database.

Browser tests are marked `browser`; without Chromium they are skipped, unless
`ONBOARD_REQUIRE_BROWSER=1` (CI) turns that into a failure. Screenshots go to
`test-output/e2e/`. Tests run serially: two cores, one browser.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from provisioning.access import accounts
from provisioning.dataset import import_dataset
from provisioning.db import Database
from provisioning.finder.answers import refresh_matches
from provisioning.states import Role
from tests.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "e2e"
CHROMIUM = os.environ.get("ONBOARD_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("ONBOARD_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The people of the journeys, each with its own account (the partner admin acts for
# org-fjord, the partner of ORD-1001, ORD-1003, ORD-1004 and ORD-2001).
PASSWORD = "e2e-password-not-secret"
ADMIN = "admin@example.com"
OPERATOR = "kim.operator@fjordcollab.no"
MANAGER = "mona.manager@example.com"
PARTNER_ADMIN = "per.partner@fjordcollab.no"
PEOPLE = ((OPERATOR, Role.OPERATOR, None), (MANAGER, Role.MANAGER, None))
PEOPLE += ((PARTNER_ADMIN, Role.PARTNER_ADMIN, "org-fjord"),)
# Streamlit's own readiness signal: the script finished and no skeleton is left.
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unavailable(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"ONBOARD_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


# One more order for the operator's journey: a partner's customer on acme.se, where three
# orgs hold the domain, with both services (the mini orders have one or the other).
EXTRA_HEADERS = {
    "orgs.csv": "org_id,name,country,industry,created_at,status,partner_id\n",
    "domains.csv": "org_id,domain,status\n",
    "users.csv": "org_id,email,status,last_activity_at\n",
    "orders.csv": "order_id,placed_at,partner_id,provisioning_email,company_name,country\n",
    "order_lines.csv": "order_id,service,quantity,is_trial_conversion,is_addon\n",
}
EXTRA_ROWS = {
    "orders.csv": "ORD-2001,2026-11-24T09:00:00Z,org-fjord,inkop@acme.se,Acme Logistik AB,SE\n",
    "order_lines.csv": "ORD-2001,meetings,60,false,false\nORD-2001,calling,20,false,false\n",
}


@pytest.fixture(scope="module")
def app_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The mini dataset and ORD-2001, the queue ranked, and the journeys' accounts."""
    url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'onboard.sqlite'}"
    db = Database(url)
    db.ensure_schema()
    import_dataset(db, FIXTURES / "mini", "e2e@example.com")
    extra = tmp_path_factory.mktemp("extra")
    for name, header in EXTRA_HEADERS.items():
        (extra / name).write_text(header + EXTRA_ROWS.get(name, ""), encoding="utf-8")
    import_dataset(db, extra, "e2e@example.com")
    refresh_matches(db, datetime.now(UTC))
    accounts.add_account(db, None, ADMIN, Role.ADMIN, password=PASSWORD)
    admin = accounts.actor_for(db, ADMIN)
    for email, role, partner in PEOPLE:
        accounts.add_account(db, admin, email, role, partner_id=partner, password=PASSWORD)
    db.dispose()
    return url


@contextlib.contextmanager
def serve_app(
    database_url: str, log: Path, port: int | None = None, env: dict[str, str] | None = None
) -> Iterator[str]:
    """`streamlit run dashboard/server.py` (the app and its cookie routes, as `make app`
    starts it) on `port` (a free one by default) with its stdout and stderr in `log`;
    its URL once it answers."""
    port = port or free_port()
    environment = {**os.environ, "ONBOARD_DATABASE_URL": database_url, **(env or {})}
    command = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "server.py"),
        "--server.headless", "true", "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]  # fmt: skip
    with log.open("wb") as output:  # a file, not a pipe nobody reads: it never fills up
        process = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.read() == b"ok":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the app did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def app_url(app_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app against the journeys' SQLite database, on a free port."""
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    with serve_app(app_database, log) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, app_url: str, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh page (its own Streamlit session); a screenshot of it is kept at the end."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    yield tab
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()


RUNNING = "[data-testid='stApp'][data-test-script-state='running']"


def wait_idle(page) -> None:
    """After a navigation or a click: wait until the rerun it caused is over and drawn.

    A click's rerun starts a moment later; waiting for "not running" straight away can
    pass before it began, and the next click would land in the middle of it.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):  # over already, or none was needed
        page.wait_for_selector(RUNNING, timeout=1_500)
    page.wait_for_selector(IDLE, timeout=30_000)
    page.wait_for_function(
        "() => document.querySelectorAll(\"[data-testid='stSkeleton']\").length === 0"
    )


def sign_in(page, email: str) -> None:
    """Sign in on the sign-in page (every page starts there: nobody is signed in yet)."""
    page.locator(".st-key-sign_in_email input").fill(email)
    page.locator(".st-key-sign_in_password input").fill(PASSWORD)
    page.locator(".st-key-sign_in_submit button").click()
    wait_idle(page)
    page.locator(".st-key-sign_out").wait_for()


@pytest.fixture
def open_page(page, app_url: str) -> Callable[[str], object]:
    def go(path: str) -> object:
        page.goto(f"{app_url}/{path.lstrip('/')}")
        wait_idle(page)
        return page

    return go
