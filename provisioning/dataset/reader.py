"""Streaming a dataset file: header checks, then one parsed row at a time.

Errors are collected, not raised, so one pass reports every problem of every file. Rows
with a bad cell are still yielded (that cell None, no derived values) so the cross-row
checks see every id the file declares: a user of an org whose row has a typo in its
status is not also reported as pointing at a missing org. Nothing here holds more than
one row.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from provisioning.dataset.schema import HEADER_REQUIRED, Column, DatasetFile, Row
from provisioning.errors import FieldError

ROW = "(row)"


class BrokenFile(Exception):
    """The file cannot be read on (bad header, bad encoding, bad quoting)."""


def read_rows(
    path: Path,
    spec: DatasetFile,
    errors: list[FieldError],
    warnings: list[str],
    broken: set[str],
) -> Iterator[Row]:
    """Yield `[line, *parsed columns, *derived values]` for every row of `path`.

    A file that stops being readable (bad header, encoding or quoting) ends early and is
    added to `broken`, the reason in `errors`. It never raises: the rows go straight into
    a `COPY`, which an exception would abort along with the whole transaction.
    """
    try:
        yield from _parse(path, spec, errors, warnings)
    except BrokenFile:
        broken.add(spec.name)


def _parse(
    path: Path, spec: DatasetFile, errors: list[FieldError], warnings: list[str]
) -> Iterator[Row]:
    name = spec.name
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader, None)
            if header is None:
                errors.append(FieldError(ROW, "the file is empty: it needs a header row", name))
                raise BrokenFile(name)
            plan = _column_plan(spec, [h.strip() for h in header], errors, warnings)
            if plan is None:
                raise BrokenFile(name)
            width = len(header)
            for raw in reader:
                if not raw:
                    continue
                line = reader.line_num
                if len(raw) != width:
                    reason = f"has {len(raw)} fields but the header has {width}"
                    errors.append(FieldError(ROW, reason, name, line))
                    continue
                row: Row = [line]
                valid = True
                for index, column in plan:
                    cell = raw[index] if index is not None else ""
                    if not cell:
                        if column.required:
                            errors.append(FieldError(column.name, "must not be empty", name, line))
                            valid = False
                        row.append(column.default)
                        continue
                    try:
                        row.append(column.parse(cell))
                    except ValueError as exc:
                        errors.append(FieldError(column.name, str(exc), name, line, cell))
                        row.append(None)
                        valid = False
                for _, derive in spec.derived:
                    row.append(derive(row) if valid else None)
                yield row
        except csv.Error as exc:
            errors.append(FieldError(ROW, f"malformed CSV: {exc}", name, reader.line_num))
            raise BrokenFile(name) from exc
        except UnicodeDecodeError as exc:
            errors.append(FieldError(ROW, "not UTF-8 text", name, _undecodable_line(path)))
            raise BrokenFile(name) from exc


def _undecodable_line(path: Path) -> int:
    """The first line that is not UTF-8 (text mode decodes in blocks and cannot say)."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 1


def _column_plan(
    spec: DatasetFile, header: list[str], errors: list[FieldError], warnings: list[str]
) -> list[tuple[int | None, Column]] | None:
    """Where each of the spec's columns sits in this file's header (None: absent)."""
    name = spec.name
    positions: dict[str, int] = {}
    ok = True
    for index, title in enumerate(header):
        if title in positions:
            errors.append(FieldError(title, "the column appears twice in the header", name, 1))
            ok = False
        positions[title] = index
    must_have = HEADER_REQUIRED.get(name, frozenset())
    for column in spec.columns:
        if column.name not in positions and (column.required or column.name in must_have):
            errors.append(FieldError(column.name, "required column is missing", name, 1))
            ok = False
    unknown = [title for title in header if title not in spec.column_names]
    if unknown:
        warnings.append(f"{name}: ignored unknown column(s): {', '.join(unknown)}")
    if not ok:
        return None
    return [(positions.get(column.name), column) for column in spec.columns]
