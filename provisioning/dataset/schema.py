"""The dataset interchange format: which files, which columns, how each cell is read.

One declaration serves the importer (header checks, cell parsing, the staging tables the
rows are bulk-loaded into) and the exporter (file and column order). A staging table has
the file's line number first, then the parsed columns, then values derived from them
(the name key and registrable domains the finder's indexes use).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import Column as SqlColumn
from sqlalchemy import Index, Integer, MetaData, Table

from matching.normalize import name_key, name_token, registrable_domain
from matching.vocabulary import DomainStatus, MemberStatus, OrgStatus, Service
from provisioning.dataset import fields
from provisioning.models import Member, Order, OrderLine, Org, OrgDomain

Row = list[object]


@dataclass(frozen=True, slots=True)
class Column:
    """A CSV column. Required columns must be in the header and never empty; optional ones
    may be missing from the header entirely, and an empty cell means "none"."""

    name: str
    parse: fields.Parser
    required: bool = True
    default: object = None  # the value of an empty or missing optional cell


@dataclass(frozen=True)
class DatasetFile:
    name: str
    required: bool
    columns: tuple[Column, ...]
    # The target table whose column types the staging table copies.
    target: Table = field(repr=False)
    # Values computed from the parsed ones, appended in this order (name, function of row).
    # They see the row as staged (`staging.cell_parsers`): read text columns, which are
    # staged as parsed, not timestamps or booleans, which SQLite stages converted.
    derived: tuple[tuple[str, Callable[[Row], object]], ...] = ()
    # Staging columns other files look up (reference checks, label updates).
    indexed: tuple[str, ...] = ()
    stage: Table = field(init=False, repr=False)

    def __post_init__(self) -> None:
        typed = [SqlColumn("line", Integer, nullable=False)]
        for name in [c.name for c in self.columns] + [name for name, _ in self.derived]:
            typed.append(SqlColumn(name, self.target.c[name].type))
        stem = self.name.removesuffix(".csv")
        table = Table(f"import_{stem}", STAGING, *typed, prefixes=["TEMPORARY"])
        for name in self.indexed:
            Index(f"ix_import_{stem}_{name}", table.c[name])
        object.__setattr__(self, "stage", table)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


STAGING = MetaData()

_status = fields.one_of


# Registrable domains of domains.csv, then of users.csv's addresses: the same hosts, met
# again one org at a time. The finder's own cache (16k hosts) is smaller than one pass
# over 20k orgs, so in that order it would miss nearly every time; this one holds the
# hosts of a 100k-org dataset (bounded, and emptied after each import: `clear_caches`).
_REGISTRABLE_CACHE_HOSTS = 1 << 17
_registrable = lru_cache(maxsize=_REGISTRABLE_CACHE_HOSTS)(registrable_domain)


def clear_caches() -> None:
    """Free what the derivations memoized during an import."""
    _registrable.cache_clear()


def _registrable_of_email(row: Row) -> str:
    # row = [line, org_id, email, ...]: the stored address is already normalized;
    # `email_domain` inlined (a million calls).
    return _registrable(str(row[2]).rpartition("@")[2])


ORGS = DatasetFile(
    "orgs.csv",
    required=True,
    columns=(
        Column("org_id", fields.identifier),
        Column("name", fields.text(255)),
        Column("country", fields.country, required=False),
        Column("industry", fields.text(64), required=False),
        Column("created_at", fields.timestamp),
        Column("status", _status(OrgStatus)),
        Column("partner_id", fields.identifier, required=False),
    ),
    derived=(
        ("name_key", lambda row: name_key(str(row[2]))),
        ("name_token", lambda row: name_token(str(row[-1]))),
    ),
    target=Org.__table__,
    indexed=("org_id",),
)

DOMAINS = DatasetFile(
    "domains.csv",
    required=True,
    columns=(
        Column("org_id", fields.identifier),
        Column("domain", fields.domain),
        Column("status", _status(DomainStatus)),
    ),
    derived=(("registrable_domain", lambda row: _registrable(str(row[2]))),),
    target=OrgDomain.__table__,
)

USERS = DatasetFile(
    "users.csv",
    required=True,
    columns=(
        Column("org_id", fields.identifier),
        Column("email", fields.email),
        Column("status", _status(MemberStatus)),
        Column("last_activity_at", fields.timestamp, required=False),
    ),
    derived=(("registrable_domain", _registrable_of_email),),
    target=Member.__table__,
)

ORDERS = DatasetFile(
    "orders.csv",
    required=True,
    columns=(
        Column("order_id", fields.identifier),
        Column("placed_at", fields.timestamp),
        Column("partner_id", fields.identifier, required=False),
        Column("provisioning_email", fields.email),
        Column("company_name", fields.text(255)),
        Column("country", fields.country, required=False),
    ),
    target=Order.__table__,
    indexed=("order_id",),
)

ORDER_LINES = DatasetFile(
    "order_lines.csv",
    required=False,
    columns=(
        Column("order_id", fields.identifier),
        Column("service", _status(Service)),
        Column("quantity", fields.positive_int),
        Column("is_trial_conversion", fields.boolean, required=False, default=False),
        Column("is_addon", fields.boolean, required=False, default=False),
    ),
    target=OrderLine.__table__,
    indexed=("order_id",),
)

LABELS = DatasetFile(
    "labels.csv",
    required=False,
    columns=(
        Column("order_id", fields.identifier),
        # Required in the header, but empty means "a new org was created for it".
        Column("org_id", fields.identifier, required=False),
    ),
    target=Order.__table__,
    indexed=("order_id",),
)

# Import order: every file's references point at files before it (or the database).
FILES: tuple[DatasetFile, ...] = (ORGS, DOMAINS, USERS, ORDERS, ORDER_LINES, LABELS)
# Columns whose header is required even though their cells may be empty.
HEADER_REQUIRED: dict[str, frozenset[str]] = {LABELS.name: frozenset({"org_id"})}
