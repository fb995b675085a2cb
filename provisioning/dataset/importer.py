"""`onboard import DIR`: validate a whole dataset, then load it in one transaction.

The files are streamed into temporary staging tables inside the import's own write
transaction; parsing errors, duplicates and dangling references are all collected, and
if there is even one the transaction is rolled back and every error is raised at once
(`InvalidInput`). Otherwise the staged rows are merged set-wise (see `merge`). Memory is
flat in the size of the files; the database does the heavy lifting.

A first load into SQLite skips staging users.csv, most of a dataset: it goes straight
into `members` (`_load_users_unstaged`), and any error sends the import the staged way.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from provisioning.audit import SYSTEM
from provisioning.dataset import checks, merge, staging
from provisioning.dataset.reader import ROW, read_rows
from provisioning.dataset.schema import FILES, LABELS, USERS, Row, clear_caches
from provisioning.db import Database
from provisioning.errors import FieldError, InvalidInput
from provisioning.models import AuditEvent
from provisioning.models.base import utcnow
from provisioning.orders import emails

AUDIT_ACTION = "dataset.import"


@dataclass(frozen=True, slots=True)
class FileReport:
    file: str
    rows: int
    changed: int


@dataclass
class ImportReport:
    directory: str
    files: list[FileReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    welcomes_queued: int = 0  # new orders awaiting intent: their welcome e-mail, once

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def changed(self) -> int:
        return sum(f.changed for f in self.files)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def import_dataset(
    db: Database, directory: Path, actor: str, now: datetime | None = None
) -> ImportReport:
    """Load the dataset in `directory`, all or nothing; raises `InvalidInput` with every error."""
    with db.write_connection() as conn:
        report = load_dataset(conn, directory, actor, now)
    # Committed: what follows may only add a warning, never turn the load into a failure.
    if report.changed and not db.refresh_statistics():
        report.warnings.append(
            "the database was busy, so its query statistics were not refreshed after the "
            "load (the import itself is complete); the next import refreshes them"
        )
    return report


def load_dataset(
    conn: Connection, directory: Path, actor: str, now: datetime | None = None
) -> ImportReport:
    """`import_dataset` inside a write transaction the caller owns (the demo adds to it)."""
    started = time.perf_counter()
    now = now or utcnow()
    report = ImportReport(directory=str(directory))
    errors: list[FieldError] = []
    present = _present_files(directory, errors, report.warnings)
    if errors and not present:
        raise InvalidInput(errors)

    with staging.bulk_session(conn):
        files = None
        if not errors and USERS.name in present and merge.can_insert_users(conn):
            files = _load_users_unstaged(conn, directory, present, actor, now, report.warnings)
        if files is None:
            files = _load(conn, directory, present, actor, now, errors, report.warnings)
        report.files = files
        if report.changed:
            # Every order that arrives gets its welcome, in the import's own transaction.
            report.welcomes_queued = emails.queue_arrivals(conn, now)
            _audit(conn, actor, now, directory, report)
    report.seconds = time.perf_counter() - started
    return report


def _load_users_unstaged(
    conn: Connection,
    directory: Path,
    present: set[str],
    actor: str,
    now: datetime,
    warnings: list[str],
) -> list[FileReport] | None:
    """The load with users.csv inserted straight into the empty `members` table, or None,
    with nothing changed, if the dataset has any error at all.

    On a first load users.csv is most of the dataset, and staging it wrote every member
    twice and checked its address and org in two more passes; here the table's primary
    and foreign keys refuse a repeated address or an unknown org as the row goes in. Such
    a refusal cannot name every offending line, so on any error the attempt is rolled
    back to its savepoint and the caller stages everything, which reports them all.
    """
    attempt_warnings: list[str] = []
    savepoint = conn.begin_nested()
    try:
        files = _load(conn, directory, present, actor, now, [], attempt_warnings, True)
    except (InvalidInput, IntegrityError):
        savepoint.rollback()
        return None
    savepoint.commit()
    warnings += attempt_warnings
    return files


def _load(
    conn: Connection,
    directory: Path,
    present: set[str],
    actor: str,
    now: datetime,
    errors: list[FieldError],
    warnings: list[str],
    users_unstaged: bool = False,
) -> list[FileReport]:
    """Stage, check, merge; with `users_unstaged`, see `_load_users_unstaged`."""
    try:
        rows, broken = _stage(
            conn, directory, present - {USERS.name} if users_unstaged else present, errors, warnings
        )
        if not broken and all(spec.name in present for spec in FILES if spec.required):
            # Only when every file could be read to its end: a half-read orgs.csv would
            # turn every user of the unread orgs into a dangling reference.
            errors += checks.cross_row_errors(conn)
        if errors:
            raise InvalidInput(errors, summary=_refusal(errors))
        for line, order_id, label, decided in merge.conflicting_labels(conn):
            warnings.append(
                f"{LABELS.name}:{line}: order {order_id} was decided in the product "
                f"(org {decided or 'new'}); the label (org {label or 'new'}) was not applied"
            )
        users = _users_until_error(conn, directory, errors, warnings) if users_unstaged else None
        changed = merge.merge_all(conn, actor, now, present, users)
    finally:
        clear_caches()
    if users_unstaged:
        rows[USERS.name] = changed[USERS.name]
    for spec in FILES:
        spec.stage.drop(conn)
    return [
        FileReport(spec.name, rows.get(spec.name, 0), changed.get(spec.name, 0))
        for spec in FILES
        if spec.name in present
    ]


def _present_files(directory: Path, errors: list[FieldError], warnings: list[str]) -> set[str]:
    if not directory.is_dir():
        errors.append(FieldError("DIR", "is not a directory", value=str(directory)))
        return set()
    present = {spec.name for spec in FILES if (directory / spec.name).is_file()}
    for spec in FILES:
        if spec.required and spec.name not in present:
            errors.append(FieldError(ROW, "required file is missing", spec.name))
    known = {spec.name for spec in FILES}
    others = sorted(p.name for p in directory.iterdir() if p.name not in known)
    if others:
        warnings.append(f"ignored file(s) that are not part of a dataset: {', '.join(others)}")
    return present


def _stage(
    conn: Connection,
    directory: Path,
    present: set[str],
    errors: list[FieldError],
    warnings: list[str],
) -> tuple[dict[str, int], set[str]]:
    """Stream every present file into its staging table; the others' stay empty.

    Returns the rows staged per file and the files that could not be read to the end.
    """
    counts: dict[str, int] = {}
    broken: set[str] = set()
    for spec in FILES:
        staging.create(conn, spec.stage)
        if spec.name in present:
            parsers = staging.cell_parsers(conn.dialect, spec)
            rows = read_rows(directory / spec.name, spec, errors, warnings, broken, parsers)
            counts[spec.name] = staging.load(conn, spec.stage, rows)
    return counts, broken


def _users_until_error(
    conn: Connection, directory: Path, errors: list[FieldError], warnings: list[str]
) -> Iterator[Row]:
    """users.csv's rows as staged, ending the attempt (`InvalidInput`) at the first error."""
    parsers = staging.cell_parsers(conn.dialect, USERS)
    for row in read_rows(directory / USERS.name, USERS, errors, warnings, set(), parsers):
        if errors:
            break
        yield row
    if errors:
        raise InvalidInput(errors)


def _refusal(errors: list[FieldError]) -> str:
    files = sorted({e.file for e in errors if e.file})
    where = f" in {', '.join(files)}" if files else ""
    return f"dataset refused: {len(errors)} error(s){where}; nothing was imported"


def _audit(
    conn: Connection, actor: str, now: datetime, directory: Path, report: ImportReport
) -> None:
    # A directory name need not be UTF-8 (bytes from another encoding arrive as lone
    # surrogates, which no database stores): recorded with those bytes shown as U+FFFD.
    directory = Path(str(directory).encode("utf-8", "surrogateescape").decode(errors="replace"))
    conn.execute(
        insert(AuditEvent.__table__).values(
            at=now,
            actor=actor,
            role=SYSTEM,
            action=AUDIT_ACTION,
            entity_type="dataset",
            entity_id=directory.name[:64] or str(directory)[:64],
            after={
                "directory": str(directory),
                "files": {f.file: {"rows": f.rows, "changed": f.changed} for f in report.files},
            },
        )
    )
