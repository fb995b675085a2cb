"""Bulk-loading parsed rows into the import's temporary staging tables.

The fastest path each database offers, inside the import's own transaction: `COPY` on
PostgreSQL, a prepared `executemany` on SQLite. On SQLite the values are what the staging
columns' own SQLAlchemy bind processors make of the parsed cells (`cell_parsers`), so the
stored form is exactly what the ORM would write (aware datetimes become naive UTC text,
booleans 0/1); psycopg's `COPY` adapts the parsed Python values itself (timestamps in
their canonical form are sent as the text they are).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import IntegrityError

from provisioning.dataset import fields
from provisioning.dataset.schema import DatasetFile, Row
from provisioning.models.base import UTCDateTime

# SQLite's default page cache is 2 MB; an import touching a million-row index thrashes it.
# A bounded cache for the import's connection (kept whatever the file size).
SQLITE_IMPORT_CACHE_KIB = 65_536


@contextmanager
def bulk_session(conn: Connection) -> Iterator[None]:
    """Tune the connection for one bulk load, and put it back afterwards.

    Besides the cache: this SQLite build (Debian's) zeroes every page it frees, which
    made dropping a million-row staging table cost 0.5 s; the staging tables are the
    import's own scratch copy of the files, so their temporary pages are freed as is.
    The main database keeps its setting.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    settings = {
        "main.cache_size": -SQLITE_IMPORT_CACHE_KIB,
        "temp.cache_size": -SQLITE_IMPORT_CACHE_KIB,
        "temp.secure_delete": 0,
    }
    previous = {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name in settings}
    for name, value in settings.items():
        conn.exec_driver_sql(f"PRAGMA {name}={value}")
    try:
        yield
    finally:
        for name, value in previous.items():
            conn.exec_driver_sql(f"PRAGMA {name}={value}")


def create(conn: Connection, table: Table) -> None:
    table.drop(conn, checkfirst=True)
    table.create(conn)


def cell_parsers(dialect: Dialect, spec: DatasetFile) -> list[fields.Parser]:
    """Per column of `spec`, cell text -> the value its staging column is loaded with.

    On SQLite that is the column's parser followed by the column type's bind processor
    (which `executemany` on the raw cursor would otherwise skip), fused into one call per
    cell. On PostgreSQL `COPY` takes the parsed values, except that canonical timestamps
    stay text (see `_timestamp`).
    """
    parsers = []
    for column in spec.columns:
        staged = spec.stage.c[column.name]
        processor = staged.type._cached_bind_processor(dialect)
        if dialect.name == "postgresql":
            if column.parse is fields.timestamp:
                parsers.append(_timestamp(fields.timestamp, sep="T", suffix="Z"))
            else:
                parsers.append(column.parse)
        elif processor is None:
            parsers.append(column.parse)
        elif isinstance(staged.type, UTCDateTime) and column.parse is fields.timestamp:
            parsers.append(_sqlite_timestamp(processor))
        else:
            parsers.append(_then(column.parse, processor))
    return parsers


def _then(parse: fields.Parser, processor: Callable[[Any], Any]) -> fields.Parser:
    def parse_and_bind(cell: str) -> object:
        return processor(parse(cell))

    return parse_and_bind


def _timestamp(general: fields.Parser, sep: str, suffix: str) -> fields.Parser:
    """`general` for timestamps, 5-10x cheaper on the two canonical forms.

    A million-member file has a million timestamps, and turning each into an aware
    datetime and that into what the database is sent costs microseconds (`astimezone`,
    `replace`, `isoformat`; psycopg's datetime dumper). Nearly every real cell is what
    exports write (`format_timestamp`): a second-precision UTC time,
    `2026-11-20T10:00:00Z`, or a date alone (midnight UTC). For those the value sent is
    the cell's own digits re-spelled `<date><sep><time><suffix>`; `fromisoformat` still
    validates them. Any other cell, or a failure, takes `general`, which words the error.
    """
    fromisoformat = datetime.fromisoformat
    midnight = f"{sep}00:00:00{suffix}"

    def parse(cell: str) -> object:
        try:
            if len(cell) == 20 and cell[4::3] == "--T::Z":  # YYYY-MM-DDTHH:MM:SSZ
                fromisoformat(cell)
                return f"{cell[:10]}{sep}{cell[11:19]}{suffix}"
            if len(cell) == 10 and cell[4::3] == "--":  # YYYY-MM-DD
                fromisoformat(cell)
                return f"{cell}{midnight}"
        except ValueError:
            pass
        return general(cell)

    return parse


# Canonical cells (`_timestamp`) with the text SQLite's bind processor makes of them.
_SAMPLES = ("2026-11-20T10:00:00Z", "1999-12-31T23:59:59Z", "2024-02-29T00:00:01Z", "2026-11-20")


def _sqlite_timestamp(processor: Callable[[Any], Any]) -> fields.Parser:
    """`fields.timestamp` + SQLite's bind processor (naive UTC text with microseconds).

    The shortcut is used only if it gives the processor's very text on samples, so a
    change of the stored form in `UTCDateTime` cannot make the two disagree silently.
    """
    general = _then(fields.timestamp, processor)
    shortcut = _timestamp(general, sep=" ", suffix=".000000")
    if all(shortcut(sample) == general(sample) for sample in _SAMPLES):
        return shortcut
    return general


def load(conn: Connection, table: Table, rows: Iterable[Row]) -> int:
    """Append `rows` (staged values, see `cell_parsers`) to `table`; returns how many."""
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


def insert(conn: Connection, spec: DatasetFile, target: Table, rows: Iterable[Row]) -> int:
    """Insert `rows`, staged values of `spec`, straight into `target` (SQLite); returns how many.

    For a file that would only be staged to be copied into an empty table (see
    `importer`). The rows are bound as they come, by position (`?2` is the first column
    after the line number), so none is rebuilt. A row the table's constraints refuse
    raises `IntegrityError`, as SQLAlchemy would.
    """
    names = [column.name for column in spec.stage.columns][1:]  # after "line"
    columns = ", ".join(f'"{name}"' for name in names)
    values = ", ".join(f"?{position}" for position in range(2, len(names) + 2))
    statement = f'INSERT INTO "{target.name}" ({columns}) VALUES ({values})'
    cursor = conn.connection.cursor()
    try:
        cursor.executemany(statement, rows)
        return cursor.rowcount
    except conn.dialect.dbapi.IntegrityError as error:  # type: ignore[union-attr]
        raise IntegrityError(statement, None, error) from error
    finally:
        cursor.close()


def _executemany(conn: Connection, table: Table, rows: Iterable[Row]) -> int:
    """One prepared INSERT fed straight from the row stream: no batches held in memory."""
    placeholders = ", ".join("?" for _ in table.columns)
    cursor = conn.connection.cursor()
    try:
        cursor.executemany(f'INSERT INTO "{table.name}" VALUES ({placeholders})', rows)
        # Summed over the rows for executemany; a staging table has no triggers.
        return cursor.rowcount
    finally:
        cursor.close()
