"""The schema is created from nothing by the migrations, and matches the models."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from provisioning.db import Database, SchemaTooNew
from provisioning.models import Base


def test_upgrade_from_empty_creates_every_table(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert db.current_revision() is None
        db.upgrade()
        assert db.current_revision() == db.head_revision()
        tables = set(inspect(db.engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
    finally:
        db.dispose()


def test_migrated_schema_matches_the_models(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_ensure_schema_is_a_no_op_when_current(db: Database) -> None:
    before = db.current_revision()
    db.ensure_schema()
    assert db.current_revision() == before == db.head_revision()


def test_processes_starting_together_on_an_empty_database_migrate_it_once(
    database_url: str,
) -> None:
    """Several app processes behind one database each call `ensure_schema` on first use;
    they queue on the migration lock instead of failing half-way on each other's tables."""
    databases = [Database(database_url) for _ in range(3)]
    try:
        with ThreadPoolExecutor(len(databases)) as pool:
            list(pool.map(lambda db: db.ensure_schema(), databases))  # re-raises any failure
        assert {db.current_revision() for db in databases} == {Database.head_revision()}
    finally:
        for db in databases:
            db.dispose()


def test_a_database_migrated_by_a_newer_release_is_refused_with_what_to_do(
    db: Database,
) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dcafe'"))
    with pytest.raises(SchemaTooNew, match="newer than this release"):
        db.ensure_schema()
    assert db.current_revision() == "f00dcafe"  # left alone


def test_sqlite_connections_enforce_foreign_keys_and_use_wal(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        db.ensure_schema()
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    finally:
        db.dispose()


def test_name_token_migration_keeps_data_and_backfills(database_url: str) -> None:
    """A database filled before 0002 upgrades without losing a row, its orgs findable."""
    db = Database(database_url)
    try:
        db.upgrade("0001")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO orgs (org_id, name, name_key, created_at, status) VALUES "
                    "('o1', 'Sjöberg Media AB', 'sjoberg media', '2020-01-01 00:00:00', 'active'),"
                    "('o2', 'Acme', 'acme', '2020-01-01 00:00:00', 'active')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO members (email, org_id, registrable_domain, status) "
                    "VALUES ('a@acme.se', 'o2', 'acme.se', 'active')"
                )
            )
        db.upgrade()
        with db.engine.connect() as conn:
            tokens = dict(conn.execute(text("SELECT org_id, name_token FROM orgs")).all())
            members = conn.execute(text("SELECT count(*) FROM members")).scalar()
        assert tokens == {"o1": "sjoberg", "o2": "acme"}
        assert members == 1
    finally:
        db.dispose()
