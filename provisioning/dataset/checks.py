"""Cross-row checks, run in SQL over the staging tables: duplicate ids and references.

Done by the database rather than in Python sets so memory stays flat however large the
files are; each finding names the file, the line and the offending value.
"""

from __future__ import annotations

from sqlalchemy import Table, and_, exists, func, select
from sqlalchemy.engine import Connection

from provisioning.dataset.schema import (
    DOMAINS,
    LABELS,
    ORDER_LINES,
    ORDERS,
    ORGS,
    USERS,
    DatasetFile,
)
from provisioning.errors import FieldError
from provisioning.models import Order, Org

# (file, key columns) whose combination must be unique within the file.
UNIQUE_KEYS: tuple[tuple[DatasetFile, tuple[str, ...]], ...] = (
    (ORGS, ("org_id",)),
    (DOMAINS, ("org_id", "domain")),
    (USERS, ("email",)),
    (ORDERS, ("order_id",)),
    (LABELS, ("order_id",)),
)

_ORG_TARGETS = (ORGS.stage, Org.__table__, "org_id", "org of orgs.csv or the database")
_ORDER_TARGETS = (ORDERS.stage, Order.__table__, "order_id", "order of orders.csv or the database")

# (file, referencing column, (staged table, stored table, key, what it must name)).
REFERENCES = (
    (ORGS, "partner_id", _ORG_TARGETS),
    (DOMAINS, "org_id", _ORG_TARGETS),
    (USERS, "org_id", _ORG_TARGETS),
    (ORDERS, "partner_id", _ORG_TARGETS),
    (ORDER_LINES, "order_id", _ORDER_TARGETS),
    (LABELS, "order_id", _ORDER_TARGETS),
    (LABELS, "org_id", _ORG_TARGETS),
)


def cross_row_errors(conn: Connection) -> list[FieldError]:
    errors: list[FieldError] = []
    for spec, key in UNIQUE_KEYS:
        errors += _duplicates(conn, spec, key)
    for spec, column, (staged, stored, key, meaning) in REFERENCES:
        errors += _dangling(conn, spec, column, staged, stored, key, meaning)
    errors += _self_managed(conn)
    return errors


def _duplicates(conn: Connection, spec: DatasetFile, key: tuple[str, ...]) -> list[FieldError]:
    """Every line repeating a key of an earlier line.

    Nearly every file has none, so one `GROUP BY` (a single sort) answers first. Only
    then are the lines found, numbered in one pass: joining the repeated keys back to
    the staging table has no index to use on SQLite and scanned the whole table once
    per repeated key (500 repeats in 200k users: 14 s).
    """
    stage = spec.stage
    columns = [stage.c[k] for k in key]
    present = and_(*(c.is_not(None) for c in columns))
    repeated = select(*columns).where(present).group_by(*columns).having(func.count() > 1)
    if conn.execute(repeated.limit(1)).first() is None:
        return []
    first = func.min(stage.c.line).over(partition_by=columns).label("first")
    numbered = select(stage.c.line, first, *columns).where(present).subquery()
    query = (
        select(numbered.c.line, numbered.c.first, *(numbered.c[k] for k in key))
        .where(numbered.c.line > numbered.c.first)
        .order_by(numbered.c.line)
    )
    field = " + ".join(key)
    return [
        FieldError(
            field,
            f"duplicate: already on line {row.first}",
            spec.name,
            row.line,
            " ".join(str(value) for value in row[2:]),
        )
        for row in conn.execute(query)
    ]


def _dangling(
    conn: Connection,
    spec: DatasetFile,
    column: str,
    staged: Table,
    stored: Table,
    key: str,
    meaning: str,
) -> list[FieldError]:
    stage = spec.stage
    value = stage.c[column]
    staged = staged.alias("target")  # orgs.csv refers to itself (partner_id)
    query = (
        select(stage.c.line, value)
        .where(
            value.is_not(None),
            ~exists().where(staged.c[key] == value),
            ~exists().where(stored.c[key] == value),
        )
        .order_by(stage.c.line)
    )
    return [
        FieldError(column, f"names no {meaning}", spec.name, line, ref)
        for line, ref in conn.execute(query)
    ]


def _self_managed(conn: Connection) -> list[FieldError]:
    stage = ORGS.stage
    query = select(stage.c.line, stage.c.partner_id).where(stage.c.partner_id == stage.c.org_id)
    return [
        FieldError("partner_id", "an org cannot be its own managing partner", ORGS.name, line, ref)
        for line, ref in conn.execute(query)
    ]
