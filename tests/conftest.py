"""Shared fixtures. Database tests run once per backend: SQLite always, PostgreSQL when
`ONBOARD_TEST_POSTGRES_URL` is set; with `ONBOARD_REQUIRE_POSTGRES=1` (CI) a missing or
unreachable PostgreSQL fails the run instead of skipping it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from provisioning.db import Database, normalize_url

# CI must give the same answer for the same code: there the property tests draw the same
# examples every run (a developer's runs keep exploring new ones, and keep what failed).
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") == "true":
    hypothesis_settings.load_profile("ci")

FIXTURES = Path(__file__).parent / "fixtures"
# The fixtures' orders were placed on fixed days of 2026, and every order action refuses
# an order past its deadline (30 days by default): without this, tests acting on them
# "now" through the CLI or the app would start failing a month after those days. Tests
# about deadlines set their own (or pass `setup_deadline_days` and a fixed `now`).
os.environ.setdefault("ONBOARD_SETUP_DEADLINE_DAYS", "36500")
POSTGRES_URL = os.environ.get("ONBOARD_TEST_POSTGRES_URL", "")
REQUIRE_POSTGRES = os.environ.get("ONBOARD_REQUIRE_POSTGRES") == "1"


def _postgres_or_skip() -> str:
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("ONBOARD_REQUIRE_POSTGRES=1 but ONBOARD_TEST_POSTGRES_URL is not set")
        pytest.skip("PostgreSQL not configured (set ONBOARD_TEST_POSTGRES_URL)")
    return normalize_url(POSTGRES_URL)


@contextmanager
def private_postgres_schema() -> Iterator[str]:
    """A URL whose connections live in a fresh, private schema (dropped afterwards)."""
    base = _postgres_or_skip()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    # pre-ping: the fault suite restarts PostgreSQL between the CREATE and the DROP
    admin = create_engine(base, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # unreachable server
        admin.dispose()
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL required but unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    with private_postgres_schema() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'onboard.sqlite'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each backend (schema not yet created)."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_schema_url")


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A migrated, empty database of each backend."""
    database = Database(database_url)
    database.ensure_schema()
    yield database
    database.dispose()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def module_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """One migrated database per backend for a whole module: migrating costs about a
    second, which a module of many small tests (or Hypothesis examples) would pay each time."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('module') / 'onboard.sqlite'}"
        else:
            url = stack.enter_context(private_postgres_schema())
        database = Database(url)
        stack.callback(database.dispose)
        database.ensure_schema()
        yield database
