"""Cross-row checks, run in SQL over the staging tables: duplicate ids and references.

Done by the database rather than in Python sets so memory stays flat however large the
files are; each finding names the file, the line and the offending value.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import Table, and_, exists, func, or_, select
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
from provisioning.models import Order, OrderLine, Org
from provisioning.states import OrderState

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
    errors += _fixed_lines(conn)
    return errors


# Once an order is mapped in the product (or closed), its lines are what its services were
# set up from: an import that changed them would leave a complete order claiming licences
# it never set up, or sites that no longer add up. New licences arrive as a new order (or
# an add-on order); the lines of an order still waiting for its org may change freely.
FIXED_LINE_STATES = (
    OrderState.AWAITING_APPROVAL.value,
    OrderState.ORG_MAPPED.value,
    OrderState.COMPLETE.value,
    OrderState.EXPIRED.value,
)
_LINE_VALUES = ("service", "quantity", "is_trial_conversion", "is_addon")


def _fixed_lines(conn: Connection) -> list[FieldError]:
    """Lines of order_lines.csv that would change a mapped or closed order's lines: a
    changed value, a line added, or (named on the order's last line) a line dropped."""
    stage, stored, orders = ORDER_LINES.stage, OrderLine.__table__, Order.__table__
    numbered = select(
        stage.c.line,
        stage.c.order_id,
        func.row_number().over(partition_by=stage.c.order_id, order_by=stage.c.line).label("no"),
        func.count().over(partition_by=stage.c.order_id).label("listed"),
        func.max(stage.c.line).over(partition_by=stage.c.order_id).label("last"),
        *(stage.c[c] for c in _LINE_VALUES),
    ).subquery("numbered")
    counted = stored.alias("counted")
    kept = (
        select(func.count())
        .select_from(counted)
        .where(counted.c.order_id == numbered.c.order_id)
        .scalar_subquery()
    )
    query = (
        select(
            numbered.c.line,
            numbered.c.order_id,
            orders.c.state,
            numbered.c.no,
            numbered.c.listed,
            numbered.c.last,
            kept.label("kept"),
            stored.c.order_id.label("had_line"),
            *(numbered.c[c].label(f"new_{c}") for c in _LINE_VALUES),
            *(stored.c[c].label(f"old_{c}") for c in _LINE_VALUES),
        )
        .join(orders, orders.c.order_id == numbered.c.order_id)
        .outerjoin(
            stored,
            and_(stored.c.order_id == numbered.c.order_id, stored.c.line_no == numbered.c.no),
        )
        .where(
            orders.c.state.in_(FIXED_LINE_STATES),
            or_(
                stored.c.order_id.is_(None),
                numbered.c.line == numbered.c.last,  # checked below for dropped lines
                *(numbered.c[c].is_distinct_from(stored.c[c]) for c in _LINE_VALUES),
            ),
        )
        .order_by(numbered.c.line)
    )
    errors = []
    for row in conn.execute(query):
        fixed = (
            f"order {row.order_id} is {row.state.replace('_', ' ')} in the product, so its "
            "lines are fixed: new licences arrive as a new order or an add-on"
        )
        errors += [
            FieldError(column, f"{what}: {fixed}", ORDER_LINES.name, row.line, value)
            for column, what, value in _line_changes(row._mapping)
        ]
    return errors


def _line_changes(row: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(column, what the line does, the value in the file) for one staged line."""
    if row["had_line"] is None:
        yield "order_id", "adds a line", row["order_id"]
        return
    for column in _LINE_VALUES:
        old, new = row[f"old_{column}"], row[f"new_{column}"]
        if old != new:
            yield column, f"changes {old} to {new}", str(new)
    if row["line"] == row["last"] and row["listed"] < row["kept"]:
        yield (
            "order_id",
            f"drops {row['kept'] - row['listed']} of its {row['kept']} lines",
            row["order_id"],
        )


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
