"""Bulk-loading parsed rows into the import's temporary staging tables.

The fastest path each database offers, inside the import's own transaction: `COPY` on
PostgreSQL, a prepared `executemany` on SQLite. Values go through the staging columns'
own SQLAlchemy bind processors, so the stored form is exactly what the ORM would write
(aware datetimes become naive UTC text on SQLite, booleans 0/1).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection

from provisioning.dataset.schema import Row

SQLITE_BATCH_ROWS = 20_000


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
