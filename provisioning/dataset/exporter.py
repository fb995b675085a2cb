"""`onboard export DIR`: the system of record as a dataset, in the import's own format.

Rows are streamed in primary-key order (stable output, diffable between exports) into a
temporary folder beside the target, moved into place only once every file is complete: a
failed export (a full disk, a lost database) leaves nothing behind, and a reader never
sees a half-written file. Every decided order becomes a label, whether the decision was imported
or taken in the product.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import Select, select

from provisioning.dataset import fields
from provisioning.dataset.schema import FILES, LABELS, DatasetFile
from provisioning.db import Database
from provisioning.models import Order

YIELD_PER = 10_000


def _query(spec: DatasetFile) -> Select[tuple[object, ...]]:
    if spec is LABELS:
        decided = select(Order.order_id, Order.org_id).where(Order.decision.is_not(None))
        return decided.order_by(Order.order_id)
    table = spec.target
    columns = select(*(table.c[name] for name in spec.column_names))
    return columns.order_by(*table.primary_key.columns)


def export_dataset(db: Database, directory: Path) -> dict[str, int]:
    """Write every dataset file into `directory` (created if needed); rows per file."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        counts: dict[str, int] = {}
        # One read transaction: the files are one consistent snapshot of the database.
        with db.engine.connect() as conn, conn.begin():
            for spec in FILES:
                result = conn.execution_options(yield_per=YIELD_PER).execute(_query(spec))
                counts[spec.name] = _write(staging / spec.name, spec.column_names, result)
        _move_into_place(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return counts


def _move_into_place(staging: Path, directory: Path) -> None:
    """A new folder is renamed whole; into an existing one each finished file replaces
    its namesake (other files there are left alone)."""
    if not directory.exists():
        staging.rename(directory)
        return
    for file in staging.iterdir():
        os.replace(file, directory / file.name)


def _write(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([_cell(value) for value in row])
            count += 1
    return count


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return fields.format_boolean(value)
    if isinstance(value, datetime):
        return fields.format_timestamp(value)
    return value
