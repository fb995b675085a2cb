"""`onboard import` / `onboard export`: all-or-nothing validation, round trip, idempotence."""

from __future__ import annotations

import csv
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import psycopg
from sqlalchemy.engine import Dialect

from provisioning.dataset import export_dataset, fields, import_dataset
from provisioning.dataset.schema import USERS
from provisioning.dataset.staging import cell_parsers
from provisioning.db import Database
from provisioning.errors import InvalidInput
from provisioning.models import AuditEvent, Member, Order, OrderLine, OrderService, Org
from provisioning.states import Decision, OrderState, ServiceState
from tests.conftest import FIXTURES

pytestmark = pytest.mark.db

MINI = FIXTURES / "mini"
ACTOR = "analyst@example.com"
TABLES = (Org, Member, Order, OrderLine, OrderService, AuditEvent)


def copy_mini(tmp_path: Path) -> Path:
    target = tmp_path / "dataset"
    shutil.copytree(MINI, target)
    (target / "README.md").unlink()
    return target


def rows_of(directory: Path, name: str) -> list[dict[str, str]]:
    with (directory / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def write_rows(directory: Path, name: str, rows: list[dict[str, str]]) -> None:
    with (directory / name).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def counts(db: Database) -> dict[str, int]:
    with db.read() as session:
        return {m.__name__: session.scalar(select(func.count()).select_from(m)) for m in TABLES}


def refused(db: Database, directory: Path) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        import_dataset(db, directory, ACTOR)
    return [str(error) for error in caught.value.errors]


def test_mini_dataset_round_trips(db: Database, tmp_path: Path, database_url: str) -> None:
    report = import_dataset(db, MINI, ACTOR)
    assert {f.file: f.rows for f in report.files} == {
        "orgs.csv": 7,
        "domains.csv": 4,
        "users.csv": 10,
        "orders.csv": 7,
        "order_lines.csv": 9,
        "labels.csv": 2,
    }
    assert any("README.md" in w for w in report.warnings)

    exported = tmp_path / "out"
    export_dataset(db, exported)
    for name in ("orgs.csv", "domains.csv", "users.csv", "orders.csv", "order_lines.csv"):
        original = sorted(tuple(r.items()) for r in rows_of(MINI, name))
        assert sorted(tuple(r.items()) for r in rows_of(exported, name)) == original, name
    assert rows_of(exported, "labels.csv") == rows_of(MINI, "labels.csv")

    # Exporting what was imported from an export gives the very same bytes.
    again = Database(f"sqlite:///{tmp_path / 'second.sqlite'}")
    again.ensure_schema()
    import_dataset(again, exported, ACTOR)
    export_dataset(again, tmp_path / "out2")
    again.dispose()
    for path in exported.iterdir():
        assert (tmp_path / "out2" / path.name).read_bytes() == path.read_bytes(), path.name


def test_labels_become_history_and_the_rest_the_queue(db: Database) -> None:
    import_dataset(db, MINI, ACTOR)
    with db.read() as session:
        orders = {o.order_id: o for o in session.scalars(select(Order))}
        services = session.execute(select(OrderService.order_id, OrderService.state)).all()
    assert orders["ORD-0901"].state == OrderState.HISTORY
    assert orders["ORD-0901"].org_id == "org-nordvik"
    assert orders["ORD-0901"].decision == Decision.IMPORTED
    assert orders["ORD-0902"].org_id is None and orders["ORD-0902"].new_org
    assert orders["ORD-1001"].state == OrderState.AWAITING_INTENT
    assert orders["ORD-1001"].decision is None
    assert orders["ORD-1001"].state_changed_at == orders["ORD-1001"].placed_at
    assert {order_id for order_id, _ in services} == {f"ORD-100{i}" for i in range(1, 6)}
    assert {state for _, state in services} == {ServiceState.PENDING}


def test_reimport_changes_nothing(db: Database) -> None:
    import_dataset(db, MINI, ACTOR)
    before = counts(db)
    with db.read() as session:
        versions = dict(session.execute(select(Order.order_id, Order.version)).all())
    report = import_dataset(db, MINI, ACTOR)
    assert report.changed == 0
    assert counts(db) == before  # no second audit event either
    with db.read() as session:
        assert dict(session.execute(select(Order.order_id, Order.version)).all()) == versions


def test_reimport_updates_changed_rows_and_keeps_the_workflow(db: Database, tmp_path: Path) -> None:
    import_dataset(db, MINI, ACTOR)
    with db.write() as session:
        order = session.get_one(Order, "ORD-1002")
        order.state = OrderState.DELEGATED
        order.delegate_email = "it@acme.se"
    dataset = copy_mini(tmp_path)
    orders = rows_of(dataset, "orders.csv")
    orders[1]["company_name"] = "Acme Logistik Aktiebolag"
    write_rows(dataset, "orders.csv", orders)
    lines = [r for r in rows_of(dataset, "order_lines.csv") if r["service"] != "calling"]
    write_rows(dataset, "order_lines.csv", lines)

    report = import_dataset(db, dataset, ACTOR)

    changed = {f.file: f.changed for f in report.files}
    assert changed["orders.csv"] == 1
    assert changed["order_lines.csv"] > 0
    assert changed["orgs.csv"] == changed["users.csv"] == 0
    with db.read() as session:
        order = session.get_one(Order, "ORD-1002")
        assert order.company_name == "Acme Logistik Aktiebolag"
        assert order.state == OrderState.DELEGATED  # the import did not reset the workflow
        assert order.delegate_email == "it@acme.se"
        lines_1001 = session.scalars(
            select(OrderLine.service).where(OrderLine.order_id == "ORD-1001")
        ).all()
    assert lines_1001 == ["meetings"]  # the order's lines are what the file now lists


def test_label_does_not_override_a_decision_taken_in_the_product(
    db: Database, tmp_path: Path
) -> None:
    import_dataset(db, MINI, ACTOR)
    with db.write() as session:
        order = session.get_one(Order, "ORD-1001")
        order.org_id, order.decision, order.state = "org-acme", Decision.ACCEPTED, "org_mapped"
    dataset = copy_mini(tmp_path)
    labels = [*rows_of(dataset, "labels.csv"), {"order_id": "ORD-1001", "org_id": "org-acme-sales"}]
    write_rows(dataset, "labels.csv", labels)

    report = import_dataset(db, dataset, ACTOR)

    assert any("ORD-1001" in w and "not applied" in w for w in report.warnings)
    with db.read() as session:
        assert session.get_one(Order, "ORD-1001").org_id == "org-acme"


def test_references_may_name_rows_already_in_the_database(db: Database, tmp_path: Path) -> None:
    import_dataset(db, MINI, ACTOR)
    delta = tmp_path / "delta"
    delta.mkdir()
    (delta / "orgs.csv").write_text("org_id,name,created_at,status\n")
    (delta / "domains.csv").write_text("org_id,domain,status\norg-acme,acme.com,unverified\n")
    (delta / "users.csv").write_text("org_id,email,status\norg-acme,New.Person@Acme.se,active\n")
    (delta / "orders.csv").write_text("order_id,placed_at,provisioning_email,company_name\n")
    (delta / "labels.csv").write_text("order_id,org_id\nORD-1003,\n")

    import_dataset(db, delta, ACTOR)

    with db.read() as session:
        member = session.get_one(Member, "new.person@acme.se")  # stored lower-cased
        assert member.registrable_domain == "acme.se"
        assert session.get_one(Order, "ORD-1003").new_org


def test_a_broken_dataset_is_refused_whole_with_every_error(db: Database, tmp_path: Path) -> None:
    import_dataset(db, MINI, ACTOR)
    before = counts(db)
    dataset = copy_mini(tmp_path)
    orgs = rows_of(dataset, "orgs.csv")
    orgs[0]["status"] = "dormant"
    orgs[1]["country"] = "XX"
    orgs[2]["created_at"] = "yesterday"
    orgs[3]["partner_id"] = "org-nowhere"
    orgs[4]["partner_id"] = orgs[4]["org_id"]
    orgs.append(dict(orgs[5]))  # duplicate org_id
    write_rows(dataset, "orgs.csv", orgs)
    users = rows_of(dataset, "users.csv")
    users[0]["email"] = "not-an-address"
    users[1]["email"] = users[2]["email"].upper()  # duplicates are case-insensitive
    users[3]["org_id"] = "org-ghost"
    users[4]["last_activity_at"] = "2026-13-01"
    write_rows(dataset, "users.csv", users)
    domains = rows_of(dataset, "domains.csv")
    domains[0]["domain"] = "acme_se"
    domains[1]["status"] = ""
    write_rows(dataset, "domains.csv", domains)
    lines = rows_of(dataset, "order_lines.csv")
    lines[0]["quantity"] = "0"
    lines[1]["is_addon"] = "maybe"
    lines[2]["order_id"] = "ORD-9999"
    lines[3]["service"] = "webinars"
    write_rows(dataset, "order_lines.csv", lines)
    (dataset / "labels.csv").write_text("order_id,org_id\nORD-0901,org-ghost\nORD-0404,\n")

    errors = refused(db, dataset)

    expected = [
        "orgs.csv:2: status: must be one of active, expired, trial (got 'dormant')",
        "orgs.csv:3: country: not an ISO 3166-1 alpha-2 country code (got 'XX')",
        "orgs.csv:4: created_at: not an ISO 8601 timestamp",
        "orgs.csv:5: partner_id: names no org of orgs.csv or the database (got 'org-nowhere')",
        "orgs.csv:6: partner_id: an org cannot be its own managing partner",
        "orgs.csv:9: org_id: duplicate: already on line 7 (got 'org-kari')",
        "users.csv:2: email: 'not-an-address' is not an e-mail address",
        "users.csv:4: email: duplicate: already on line 3",
        "users.csv:5: org_id: names no org of orgs.csv or the database (got 'org-ghost')",
        "users.csv:6: last_activity_at: not an ISO 8601 timestamp",
        "domains.csv:2: domain: 'acme_se' is not a valid domain name",
        "domains.csv:3: status: must not be empty",
        "order_lines.csv:2: quantity: must be a positive whole number (got '0')",
        "order_lines.csv:3: is_addon: must be true or false (got 'maybe')",
        "order_lines.csv:4: order_id: names no order of orders.csv or the database",
        "order_lines.csv:5: service: must be one of calling, meetings (got 'webinars')",
        "labels.csv:2: org_id: names no org of orgs.csv or the database (got 'org-ghost')",
        "labels.csv:3: order_id: names no order of orders.csv or the database (got 'ORD-0404')",
    ]
    for message in expected:
        assert any(e.startswith(message) for e in errors), f"{message!r} not in {errors}"
    assert len(errors) == len(expected)
    assert counts(db) == before


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: (d / "users.csv").unlink(), "users.csv: (row): required file is missing"),
        (
            lambda d: (d / "orgs.csv").write_text("org_id,name,status\nx,y,active\n"),
            "orgs.csv:1: created_at: required column is missing",
        ),
        (
            lambda d: (d / "labels.csv").write_text("order_id\nORD-0901\n"),
            "labels.csv:1: org_id: required column is missing",
        ),
        (
            lambda d: (d / "orgs.csv").write_text("org_id,org_id,name\n"),
            "orgs.csv:1: org_id: the column appears twice in the header",
        ),
        (
            lambda d: (d / "domains.csv").write_text("org_id,domain,status\norg-acme,acme.se\n"),
            "domains.csv:2: (row): has 2 fields but the header has 3",
        ),
        (
            lambda d: (d / "domains.csv").write_text('org_id,domain,status\n"org-acme,acme.se\n'),
            "domains.csv:2: (row): malformed CSV",
        ),
        (
            lambda d: (d / "domains.csv").write_bytes(b"org_id,domain,status\nx,\xff.se,claimed\n"),
            "domains.csv:2: (row): not UTF-8 text",
        ),
        (lambda d: (d / "orders.csv").write_text(""), "orders.csv: (row): the file is empty"),
    ],
    ids=[
        "missing-file",
        "missing-column",
        "missing-label-column",
        "repeated-column",
        "short-row",
        "malformed-csv",
        "not-utf8",
        "empty-file",
    ],
)
def test_file_level_errors(db: Database, tmp_path: Path, mutate: object, message: str) -> None:
    dataset = copy_mini(tmp_path)
    mutate(dataset)  # type: ignore[operator]
    errors = refused(db, dataset)
    assert any(e.startswith(message) for e in errors), errors
    assert counts(db)["Org"] == 0


def test_unknown_columns_and_files_are_ignored_with_a_warning(db: Database, tmp_path: Path) -> None:
    dataset = copy_mini(tmp_path)
    orgs = [{**row, "tier": "gold"} for row in rows_of(dataset, "orgs.csv")]
    write_rows(dataset, "orgs.csv", orgs)
    (dataset / "notes.txt").write_text("hello")

    report = import_dataset(db, dataset, ACTOR)

    assert "orgs.csv: ignored unknown column(s): tier" in report.warnings
    assert any("notes.txt" in w for w in report.warnings)
    assert counts(db)["Org"] == 7


def test_not_a_directory(db: Database, tmp_path: Path) -> None:
    errors = refused(db, tmp_path / "nowhere")
    assert errors == [f"DIR: is not a directory (got '{tmp_path / 'nowhere'}')"]


TIMESTAMP_CELLS = [
    "2026-11-20T09:12:00Z",  # the canonical forms, which the importer reads on a fast path
    "2026-11-20",
    "2024-02-29T23:59:59Z",
    "2026-11-20T10:12:00+01:00",  # everything else ISO 8601 takes the general path
    "2026-11-20T09:12:00.250000Z",
    "2026-11-20 09:12:00Z",
    "2026-11-20T09:12:00",
    " 2026-11-20T09:12:00Z ",
    "2026-11-20t09:12:00z",
    "2026-W47-5T09:12:00Z",
    "2026-11-20T24:00:00Z",
    "2023-02-29T09:12:00Z",  # not a date
    "2026-13-20",
    "20261120T091200Z",
    "yesterday",
]


@pytest.mark.parametrize("dialect", [sqlite.dialect(), psycopg.dialect()], ids=["sqlite", "pg"])
def test_staged_timestamps_are_the_parsed_ones(dialect: Dialect) -> None:
    """The staging fast path gives what parsing and binding give, or the same error."""
    column = USERS.stage.c.last_activity_at
    staged = cell_parsers(dialect, USERS)[USERS.column_names.index("last_activity_at")]
    bind = column.type._cached_bind_processor(dialect) if dialect.name == "sqlite" else None
    for cell in TIMESTAMP_CELLS:
        try:
            expected: object = fields.timestamp(cell)
        except ValueError as exc:
            with pytest.raises(ValueError, match=re.escape(str(exc))):
                staged(cell)
            continue
        value = staged(cell)
        if bind is not None:
            assert value == bind(expected), cell
        elif isinstance(value, str):  # sent as text: PostgreSQL reads the same instant
            assert datetime.fromisoformat(value) == expected, cell
        else:
            assert value == expected, cell


def test_timestamps_are_stored_as_the_instant_they_name(db: Database, tmp_path: Path) -> None:
    dataset = copy_mini(tmp_path)
    users = rows_of(dataset, "users.csv")
    cells = ["2026-11-20T09:12:00Z", "2026-11-20", "2026-11-20T10:12:00+01:00", ""]
    for user, cell in zip(users, cells, strict=False):
        user["last_activity_at"] = cell
    write_rows(dataset, "users.csv", users)

    import_dataset(db, dataset, ACTOR)

    with db.read() as session:
        stored = [session.get_one(Member, u["email"].lower()).last_activity_at for u in users[:4]]
    nine_twelve = datetime(2026, 11, 20, 9, 12, tzinfo=UTC)
    assert stored == [nine_twelve, datetime(2026, 11, 20, tzinfo=UTC), nine_twelve, None]
    assert import_dataset(db, dataset, ACTOR).changed == 0


def test_every_repeat_of_a_key_names_its_first_line(db: Database, tmp_path: Path) -> None:
    dataset = copy_mini(tmp_path)
    users = rows_of(dataset, "users.csv")
    users += [dict(users[0]), dict(users[1]), {**users[0], "email": users[0]["email"].upper()}]
    write_rows(dataset, "users.csv", users)
    first, second = (f"{u['email']}".lower() for u in users[:2])
    n = len(users)  # lines: header is 1, so user i is on line i + 2

    errors = refused(db, dataset)

    assert errors == [
        f"users.csv:{n - 1}: email: duplicate: already on line 2 (got '{first}')",
        f"users.csv:{n}: email: duplicate: already on line 3 (got '{second}')",
        f"users.csv:{n + 1}: email: duplicate: already on line 2 (got '{first}')",
    ]


def test_a_first_load_refuses_a_member_of_no_org_with_its_line(
    db: Database, tmp_path: Path
) -> None:
    """Into an empty database the members skip staging; their org is still checked."""
    dataset = copy_mini(tmp_path)
    users = rows_of(dataset, "users.csv")
    users[2]["org_id"] = "org-ghost"
    write_rows(dataset, "users.csv", users)

    errors = refused(db, dataset)

    assert errors == [
        "users.csv:4: org_id: names no org of orgs.csv or the database (got 'org-ghost')"
    ]
    assert set(counts(db).values()) == {0}


def test_a_first_load_leaves_the_indexes_as_the_migrations_made_them(db: Database) -> None:
    def indexes() -> dict[str, list[dict[str, object]]]:
        tables = ("orgs", "org_domains", "members", "orders", "order_lines")
        with db.engine.connect() as conn:
            inspector = inspect(conn)
            return {table: inspector.get_indexes(table) for table in tables}

    migrated = indexes()
    import_dataset(db, MINI, ACTOR)

    assert indexes() == migrated


def test_a_mapped_orders_lines_are_fixed_and_a_changing_import_is_refused_whole(
    db: Database, tmp_path: Path
) -> None:
    """ORD-1004 is complete with Calling for 40 licences: a file saying 60 (or adding or
    dropping a line) is refused with file:line and changes nothing; the lines of an order
    still waiting for its org change as before."""
    from provisioning import orders
    from tests.people import OPERATOR

    import_dataset(db, MINI, ACTOR)
    orders.set_intent(db, "ORD-1004", "own-company", OPERATOR)
    orders.create_org(db, "ORD-1004", "Nordvik Bygg", "Construction", "SE", OPERATOR)
    orders.set_up_calling(
        db,
        "ORD-1004",
        OPERATOR,
        name="Head office",
        country="SE",
        address_line1="Sveavägen 1",
        city="Stockholm",
        postal_code="111 57",
    )
    orders.set_intent(db, "ORD-1005", "own-company", OPERATOR)
    orders.map_org(db, "ORD-1005", "org-berlin", OPERATOR)
    with db.read() as session:
        assert session.get_one(Order, "ORD-1004").state == OrderState.COMPLETE
        assert session.get_one(Order, "ORD-1005").state == OrderState.ORG_MAPPED
    before = counts(db)
    dataset = copy_mini(tmp_path)
    lines = rows_of(dataset, "order_lines.csv")
    position = next(i for i, r in enumerate(lines) if r["order_id"] == "ORD-1004")
    lines[position]["quantity"] = "60"
    lines.append({**lines[position], "service": "meetings", "quantity": "10"})
    lines[0]["quantity"] = "300"  # ORD-1001 still waits for its org: may change
    dropped = next(i for i, r in enumerate(lines) if r["order_id"] == "ORD-1005")
    del lines[dropped + 1]  # ORD-1005's Calling line
    write_rows(dataset, "order_lines.csv", lines)

    errors = refused(db, dataset)

    assert errors == [
        f"order_lines.csv:{position + 2}: quantity: changes 40 to 60: order ORD-1004 is "
        "complete in the product, so its lines are fixed: new licences arrive as a new order "
        "or an add-on (got '60')",
        f"order_lines.csv:{dropped + 2}: order_id: drops 1 of its 2 lines: order ORD-1005 is "
        "org mapped in the product, so its lines are fixed: new licences arrive as a new "
        "order or an add-on (got 'ORD-1005')",
        f"order_lines.csv:{len(lines) + 1}: order_id: adds a line: order ORD-1004 is complete "
        "in the product, so its lines are fixed: new licences arrive as a new order or an "
        "add-on (got 'ORD-1004')",
    ]
    assert counts(db) == before
    with db.read() as session:
        assert session.scalars(
            select(OrderLine.quantity).where(OrderLine.order_id == "ORD-1004")
        ).all() == [40]

    mapped = {"ORD-1004", "ORD-1005"}
    write_rows(dataset, "order_lines.csv", [r for r in lines if r["order_id"] not in mapped])
    report = import_dataset(db, dataset, ACTOR)  # mapped orders not listed: their lines stay
    assert {f.file: f.changed for f in report.files}["order_lines.csv"] == 1


@pytest.mark.parametrize("target_exists", [False, True])
def test_a_failed_export_leaves_nothing_behind(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target_exists: bool
) -> None:
    """The database fails half-way (after orgs.csv and domains.csv were written): no
    `.partial`, no complete files, no new folder; an existing folder is left as it was."""
    import_dataset(db, MINI, ACTOR)
    from provisioning.dataset import exporter

    target = tmp_path / "out"
    if target_exists:
        target.mkdir()
        (target / "notes.txt").write_text("mine")
    written = exporter._write

    def failing(path: Path, header: object, rows: object) -> int:
        if path.name == "users.csv":
            raise OSError(28, "No space left on device", str(path))
        return written(path, header, rows)  # type: ignore[arg-type]

    monkeypatch.setattr(exporter, "_write", failing)
    with pytest.raises(OSError):
        export_dataset(db, target)
    left = {p.name for p in tmp_path.iterdir() if not p.name.startswith("onboard.sqlite")}
    assert left == ({"out"} if target_exists else set())  # no staging folder, no new one
    if target_exists:
        assert [p.name for p in target.iterdir()] == ["notes.txt"]


def test_a_committed_import_stays_a_success_when_another_writer_holds_the_lock(
    sqlite_url: str,
) -> None:
    """SQLite: another writer (a second import, a stream of `orders map`) holds the lock
    just as the load commits; refreshing the planner's statistics then cannot run. The
    import still reports what it loaded, with a warning, and the data is there."""
    import sqlite3

    db = Database(sqlite_url)
    db.ensure_schema()
    refresh = db.refresh_statistics

    def with_another_writer() -> bool:
        other = sqlite3.connect(db.engine.url.database, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            return refresh()
        finally:
            other.execute("ROLLBACK")
            other.close()

    db.refresh_statistics = with_another_writer  # type: ignore[method-assign]
    try:
        report = import_dataset(db, MINI, ACTOR)
        assert any("statistics were not refreshed" in w for w in report.warnings)
        assert {f.file: f.changed for f in report.files}["orders.csv"] == 7
        assert counts(db)["Order"] == 7
    finally:
        db.dispose()
