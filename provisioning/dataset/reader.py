"""Streaming a dataset file: header checks, then one parsed row at a time.

Errors are collected, not raised, so one pass reports every problem of every file. Rows
with a bad cell are still yielded (that cell None, no derived values) so the cross-row
checks see every id the file declares: a user of an org whose row has a typo in its
status is not also reported as pointing at a missing org. Nothing here holds more than
one row.

This loop runs once per row of a million-row file, so a row is built in one go (one
`map` over the columns' parsers) and only a row that fails somewhere is gone through
again cell by cell to word each error. Both paths call the same parsers, so they agree
on every value; the slow one only adds the error reports.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from operator import call, itemgetter
from pathlib import Path

from provisioning.dataset.fields import Parser
from provisioning.dataset.schema import HEADER_REQUIRED, Column, DatasetFile, Row
from provisioning.errors import FieldError

ROW = "(row)"
# Larger reads than the 8 KiB default: fewer decode calls on files of hundreds of MB.
READ_BUFFER_BYTES = 1 << 20

# (position in the file's row or None when the column is absent, column, cell parser)
Plan = list[tuple[int | None, Column, Parser]]


class BrokenFile(Exception):
    """The file cannot be read on (bad header, bad encoding, bad quoting)."""


def read_rows(
    path: Path,
    spec: DatasetFile,
    errors: list[FieldError],
    warnings: list[str],
    broken: set[str],
    parsers: Sequence[Parser] | None = None,
) -> Iterator[Row]:
    """Yield `[line, *parsed columns, *derived values]` for every row of `path`.

    `parsers` (one per column of `spec`, default: each column's own `parse`) may turn a
    cell straight into the form the staging table stores (see `staging.cell_parsers`);
    they must accept and refuse exactly what the column's `parse` does, with its words.

    A file that stops being readable (bad header, encoding or quoting) ends early and is
    added to `broken`, the reason in `errors`. It never raises: the rows go straight into
    a `COPY`, which an exception would abort along with the whole transaction.
    """
    if parsers is None:
        parsers = [column.parse for column in spec.columns]
    try:
        yield from _parse(path, spec, parsers, errors, warnings)
    except BrokenFile:
        broken.add(spec.name)


def _parse(
    path: Path,
    spec: DatasetFile,
    parsers: Sequence[Parser],
    errors: list[FieldError],
    warnings: list[str],
) -> Iterator[Row]:
    name = spec.name
    derive = [function for _, function in spec.derived]
    with path.open(encoding="utf-8-sig", newline="", buffering=READ_BUFFER_BYTES) as handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader, None)
            if header is None:
                errors.append(FieldError(ROW, "the file is empty: it needs a header row", name))
                raise BrokenFile(name)
            plan = _column_plan(spec, [h.strip() for h in header], parsers, errors, warnings)
            if plan is None:
                raise BrokenFile(name)
            width = len(header)
            cells = _cell_picker(plan, width)
            fast = [_whole_cell_parser(index, column, parse) for index, column, parse in plan]
            for raw in reader:
                if len(raw) != width:
                    if raw:
                        reason = f"has {len(raw)} fields but the header has {width}"
                        errors.append(FieldError(ROW, reason, name, reader.line_num))
                    continue
                line = reader.line_num
                try:
                    row: Row = [line, *map(call, fast, cells(raw) if cells else raw)]
                except ValueError:
                    yield _checked_row(raw, line, plan, spec, errors)
                    continue
                for function in derive:
                    row.append(function(row))
                yield row
        except csv.Error as exc:
            errors.append(FieldError(ROW, f"malformed CSV: {exc}", name, reader.line_num))
            raise BrokenFile(name) from exc
        except UnicodeDecodeError as exc:
            errors.append(FieldError(ROW, "not UTF-8 text", name, _undecodable_line(path)))
            raise BrokenFile(name) from exc


def _checked_row(
    raw: list[str], line: int, plan: Plan, spec: DatasetFile, errors: list[FieldError]
) -> Row:
    """The row again, cell by cell, reporting every bad cell (which becomes None)."""
    name = spec.name
    row: Row = [line]
    valid = True
    for index, column, parse in plan:
        cell = raw[index] if index is not None else ""
        if not cell:
            if column.required:
                errors.append(FieldError(column.name, "must not be empty", name, line))
                valid = False
            row.append(column.default)
            continue
        try:
            row.append(parse(cell))
        except ValueError as exc:
            errors.append(FieldError(column.name, str(exc), name, line, cell))
            row.append(None)
            valid = False
    for _, derive in spec.derived:
        row.append(derive(row) if valid else None)
    return row


def _whole_cell_parser(index: int | None, column: Column, parse: Parser) -> Parser:
    """`parse` for the fast path, which also sees empty cells: an empty optional cell is
    the column's default, an empty required one is refused (`ValueError`, so the row is
    re-read by `_checked_row`, which says why)."""
    default = column.default
    if index is None:  # an optional column the file does not have

        def absent(_cell: str) -> object:
            return default

        return absent
    if not column.required:

        def optional(cell: str) -> object:
            return parse(cell) if cell else default

        return optional
    if _refuses_empty(parse):
        return parse  # the common case: no wrapper call per cell

    def required(cell: str) -> object:
        if not cell:
            raise ValueError("must not be empty")
        return parse(cell)

    return required


def _refuses_empty(parse: Parser) -> bool:
    """Whether `parse("")` raises (parsers are pure functions of the cell)."""
    try:
        parse("")
    except ValueError:
        return True
    return False


def _cell_picker(plan: Plan, width: int) -> Callable[[list[str]], Sequence[str]] | None:
    """The cells in the spec's column order, or None when the file already has exactly
    that order. An absent column is handed the row's first cell, which it ignores."""
    positions = [0 if index is None else index for index, _, _ in plan]
    if positions == list(range(width)):
        return None
    if len(positions) == 1:
        only = positions[0]
        return lambda raw: (raw[only],)
    return itemgetter(*positions)


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
    spec: DatasetFile,
    header: list[str],
    parsers: Sequence[Parser],
    errors: list[FieldError],
    warnings: list[str],
) -> Plan | None:
    """Where each of the spec's columns sits in this file's header (None: absent)."""
    name = spec.name
    positions: dict[str, int] = {}
    ok = True
    for index, title in enumerate(header):
        if title in positions:
            # An untitled column (",," at a row's end) is named by where it is.
            field, reason = (
                (title, "the column appears twice in the header")
                if title
                else (f"(column {index + 1})", "a second column without a title")
            )
            errors.append(FieldError(field, reason, name, 1))
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
    return [
        (positions.get(column.name), column, parse)
        for column, parse in zip(spec.columns, parsers, strict=True)
    ]
