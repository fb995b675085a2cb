"""Engines, sessions and the schema. Nothing here connects at import time.

SQLite is the embedded default and gets what a multi-user SQLite needs: WAL (readers do
not block the writer), foreign keys, a busy timeout, and `BEGIN IMMEDIATE` for write
transactions so two writers queue instead of failing half-way with SQLITE_BUSY.
PostgreSQL (psycopg 3) is the multi-operator database.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from logging import DEBUG
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, Table, case, create_engine, event, func, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import Insert

from provisioning.errors import ProvisioningError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
MIGRATION_LOCK = 0x6F6E626F61726400  # "onboard\0": the advisory lock migrators queue on
SQLITE_BUSY_TIMEOUT_MS = 30_000
STATISTICS_WAIT_MS = 2_000  # refreshing statistics after a load waits this long for the lock
log = logging.getLogger(__name__)


class SchemaTooNew(ProvisioningError):
    """The database was migrated by a newer release than the one running."""


def _known_revision(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


def _use_wal(cursor: Any) -> None:
    """WAL is kept in the file, but switching a new file to it needs the file alone, which
    the busy timeout does not wait for: processes opening a new database at once (several
    app processes on first start) retry instead of failing with "database is locked"."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def normalize_url(url: str) -> str:
    """Accept `postgresql://` as the psycopg 3 driver (psycopg2 is not installed)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN instead of pysqlite's own logic.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine whose errors and logs never carry bound parameters (customer e-mails,
    domains, order ids): only the statement's shape."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, hide_parameters=True, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True, **kwargs)


def conflict_insert(bind: Connection | Session, table: Table) -> Insert:
    """An INSERT of `table` that takes `on_conflict_do_nothing/update`, in the dialect of
    `bind`: both databases speak ON CONFLICT, but SQLAlchemy builds it per dialect."""
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)  # type: ignore[return-value]


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


class Database:
    """The unit-of-work factory the services use: `with db.write() as session:`.

    `write()` is one transaction (committed on success, rolled back on any error);
    `read()` is a session for queries that never writes.
    """

    def __init__(
        self, url: str, *, setup_deadline_days: int | None = None, **engine_kwargs: Any
    ) -> None:
        self.url = normalize_url(url)
        # The deployment's deadline (ONBOARD_SETUP_DEADLINE_DAYS), set by the entry points:
        # with it, every order action refuses an order past its deadline at once, rather
        # than only once the deadline sweep has expired it. None (library use, notebooks,
        # tests): only the sweep applies deadlines.
        self.setup_deadline_days = setup_deadline_days
        self.engine = make_engine(self.url, **engine_kwargs)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(
            self.engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self._write.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """One Core-level write transaction (bulk loads that bypass the ORM)."""
        with self.engine.execution_options(sqlite_begin="IMMEDIATE").begin() as conn:
            yield conn

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @staticmethod
    def head_revision() -> str | None:
        return ScriptDirectory.from_config(alembic_config()).get_current_head()

    def upgrade(self, revision: str = "head") -> None:
        """Run the Alembic migrations (`onboard db upgrade`).

        One migrator at a time: on PostgreSQL a transaction-scoped advisory lock, on SQLite
        `BEGIN IMMEDIATE`. Alembic reads the revision only after the lock is held, so app
        processes starting together on an empty database queue up and all but the first
        find nothing left to do (without the lock, all but one failed half-way).
        """
        with self.engine.execution_options(sqlite_begin="IMMEDIATE").begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            command.upgrade(alembic_config(conn), revision)

    def ensure_schema(self) -> None:
        """Migrate to head when behind; a no-op on an up-to-date database.

        A database migrated by a newer release is refused with what to do, rather than
        "upgraded" to this older code's head (which Alembic cannot do).
        """
        current, head = self.current_revision(), self.head_revision()
        if current == head:
            return
        if current is not None and not _known_revision(current):
            raise SchemaTooNew(
                f"the database is at schema revision {current}, newer than this release "
                f"knows (its newest is {head}): run the release that migrated it"
            )
        self.upgrade()

    def refresh_statistics(self) -> bool:
        """Let the query planner see the data after a bulk load; False if it could not.

        Without statistics PostgreSQL plans the finder's batch look-ups as if the tables
        were empty (measured: 3x slower `match --all` on 1M orgs); SQLite's `optimize`
        samples (`analysis_limit`) so it stays quick on big files. Run after a commit, it
        is best effort: another writer holding SQLite's lock (a second import, a stream of
        order actions) or a lost connection must not turn a committed load into a failure,
        so it waits briefly for the lock and reports rather than raises.
        """
        try:
            with self.engine.connect() as conn:
                if self.dialect == "sqlite":
                    conn.exec_driver_sql(f"PRAGMA busy_timeout={STATISTICS_WAIT_MS}")
                    try:
                        conn.exec_driver_sql("PRAGMA analysis_limit=1000")
                        conn.exec_driver_sql("PRAGMA optimize")
                    finally:
                        conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                else:
                    conn.exec_driver_sql("ANALYZE orgs, org_domains, members, orders")
                conn.commit()
        except SQLAlchemyError:
            log.warning("query statistics not refreshed", exc_info=log.isEnabledFor(DEBUG))
            return False
        return True

    def dispose(self) -> None:
        self.engine.dispose()


def count_where(condition: Any) -> Any:
    """How many rows meet `condition`, as one column of a grouped SELECT: several counts
    in one pass over the rows instead of one query each."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)
