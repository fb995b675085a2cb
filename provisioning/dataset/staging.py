"""Bulk-loading parsed rows into the import's temporary staging tables.

The fastest path each database offers, inside the import's own transaction: `COPY` on
PostgreSQL, a prepared `executemany` on SQLite. Values go through the staging columns'
own SQLAlchemy bind processors, so the stored form is exactly what the ORM would write
(aware datetimes become naive UTC text on SQLite, booleans 0/1).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection

from provisioning.dataset.schema import Row

SQLITE_BATCH_ROWS = 20_000
# SQLite's default page cache is 2 MB; an import touching a million-row index thrashes it.
# A bounded cache for the import's connection (kept whatever the file size).
SQLITE_IMPORT_CACHE_KIB = 65_536


@contextmanager
def bulk_session(conn: Connection) -> Iterator[None]:
    """Tune the connection for one bulk load, and put it back afterwards."""
    if conn.dialect.name != "sqlite":
        yield
        return
    previous = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_IMPORT_CACHE_KIB}")
    conn.exec_driver_sql(f"PRAGMA temp.cache_size=-{SQLITE_IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={previous}")
        conn.exec_driver_sql(f"PRAGMA temp.cache_size={previous}")


def create(conn: Connection, table: Table) -> None:
    table.drop(conn, checkfirst=True)
    table.create(conn)


def load(conn: Connection, table: Table, rows: Iterable[Row]) -> int:
    """Append `rows` to `table`; returns how many were written."""
    if conn.dialect.name == "postgresql":
        return _copy(conn, table, rows)
    return _executemany(conn, table, rows)


def _copy(conn: Connection, table: Table, rows: Iterable[Row]) -> int:
    columns = ", ".join(f'"{c.name}"' for c in table.columns)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    count = 0
    with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def _executemany(conn: Connection, table: Table, rows: Iterable[Row]) -> int:
    dialect = conn.dialect
    processors = [
        (index, processor)
        for index, column in enumerate(table.columns)
        if (processor := column.type._cached_bind_processor(dialect)) is not None
    ]
    placeholders = ", ".join("?" for _ in table.columns)
    statement = f'INSERT INTO "{table.name}" VALUES ({placeholders})'
    cursor = conn.connection.cursor()
    count = 0
    for batch in _batches(_processed(rows, processors), SQLITE_BATCH_ROWS):
        cursor.executemany(statement, batch)
        count += len(batch)
    cursor.close()
    return count


def _processed(rows: Iterable[Row], processors: list[tuple[int, Any]]) -> Iterator[Row]:
    for row in rows:
        for index, processor in processors:
            value = row[index]
            if value is not None:
                row[index] = processor(value)
        yield row


def _batches(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch
