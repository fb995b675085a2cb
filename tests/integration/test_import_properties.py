"""Properties of `onboard import` over damaged datasets: the valid mini fixture, corrupted
by Hypothesis cell by cell, row by row, column by column and byte by byte.

Whatever the files hold, the import either loads them or refuses them with
`InvalidInput` (never another exception, which an operator would see as a traceback);
every reason says which file, which column and which line; and a refused import leaves
the database exactly as it was, row for row.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from provisioning.dataset import fields, import_dataset
from provisioning.dataset.reader import ROW
from provisioning.dataset.schema import FILES, Column
from provisioning.db import Database
from provisioning.errors import FieldError, InvalidInput
from provisioning.models import Org
from provisioning.models.base import Base
from tests.conftest import FIXTURES

pytestmark = pytest.mark.db

MINI = FIXTURES / "mini"
# The one acting user of this module (service signatures are about to take an Actor).
ACTOR = "property-tests@example.com"
SPECS = {spec.name: spec for spec in FILES}

DB_EXAMPLES = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Table = list[list[str]]
Dataset = dict[str, Table]


# --- what a damaged cell holds ----------------------------------------------------------

# Per kind of column, values that are nearly right: the parser's edge, not random noise.
DATES = [
    "2026-02-30",
    "2026-13-01",
    "2026-11-20T25:00:00Z",
    "0001-01-01T00:00:00+01:00",  # before year 1 once in UTC
    "9999-12-31T23:59:59-01:00",  # after year 9999 once in UTC
    "1970-01-01T00:00:00+14:00",
    "20261120",
    "2026-11-20 10:00",
    "yesterday",
    "2026-11-20T10:00:00.123456789Z",
]
EMAILS = [
    "anna@",
    "@acme.se",
    "anna lind@acme.se",
    "anna@acme",
    "anna@-acme.se",
    "anna@acme..se",
    "ANNA.LIND@ACME.SE",
    "ä@exämple.se",
    "a" * 65 + "@acme.se",
    "anna@" + "a" * 64 + ".se",
    "anna@1.2.3.4",
    "anna@acme.se.",
]
DOMAINS = [
    "-acme.se",
    "acme..se",
    "localhost",
    "1.2.3.4",
    "ex_ample.se",
    "a" * 64 + ".se",
    "acme.se.",
    "*.acme.se",
    "xn--.se",
    "ACME.SE",
    "exämple.se",
    ("a" * 60 + ".") * 5 + "se",
]
IDS = [
    "org-acme",
    "org-fjord",
    "ORD-1001",
    "ORD-0901",
    "org-nope",
    "ORD-404",
    " org-acme",
    "x" * 65,
    "org\x00acme",
]
NUMBERS = ["0", "-5", "1.5", "1e3", "+7", "1_000", "٣", "2147483647", "2147483648", "9" * 25]
BOOLEANS = ["TRUE", "no", "1", "2", "yes please", "null"]
COUNTRIES = ["se", "SWE", "Sweden", "XX", "S", " SE "]
GENERIC = [
    "",
    " ",
    "\t",
    "\x00",
    "x" * 300,
    "龍" * 255,  # 255 characters, but more than 255 once transliterated
    "Åsa 🙂 Ltd",
    "שלום",
    "\u202eevil",
    "line\nbreak",
    "\r",
    '"',
    "a,b",
    "NaN",
    "None",
]
BY_PARSER: dict[object, list[str]] = {
    fields.timestamp: DATES,
    fields.email: EMAILS,
    fields.domain: DOMAINS,
    fields.identifier: IDS,
    fields.positive_int: NUMBERS,
    fields.boolean: BOOLEANS,
    fields.country: COUNTRIES,
}


def cells_for(column: Column | None) -> st.SearchStrategy[str]:
    """What a corrupted cell of `column` holds: its kind's near misses, anything odd, or
    arbitrary text (any plane, control characters included; never surrogates: files hold
    bytes, and undecodable ones are drawn separately)."""
    specific = BY_PARSER.get(column.parse, []) if column is not None else []
    choices = [st.sampled_from(GENERIC), st.text(max_size=30)]
    if specific:
        choices.insert(0, st.sampled_from(specific))
    return st.one_of(*choices)


# --- damaging a dataset -----------------------------------------------------------------


@cache
def _mini() -> tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]:
    """The mini fixture's rows, header first (read once; copied per example)."""
    loaded = []
    for spec in FILES:
        with (MINI / spec.name).open(encoding="utf-8", newline="") as handle:
            loaded.append((spec.name, tuple(tuple(row) for row in csv.reader(handle))))
    return tuple(loaded)


def mini_dataset() -> Dataset:
    return {name: [list(row) for row in rows] for name, rows in _mini()}


def _column(name: str, table: Table, index: int) -> Column | None:
    title = table[0][index] if table and index < len(table[0]) else ""
    return next((c for c in SPECS[name].columns if c.name == title), None)


def _edit_cell(draw: st.DrawFn, data: Dataset, name: str) -> None:
    table = data[name]
    if len(table) < 2:
        return
    row = draw(st.integers(1, len(table) - 1))
    if not table[row]:
        return
    index = draw(st.integers(0, len(table[row]) - 1))
    table[row][index] = draw(cells_for(_column(name, table, index)))


def _duplicate_row(draw: st.DrawFn, data: Dataset, name: str) -> None:
    table = data[name]
    if len(table) >= 2:
        copied = list(table[draw(st.integers(1, len(table) - 1))])
        table.insert(draw(st.integers(1, len(table))), copied)


def _drop_row(draw: st.DrawFn, data: Dataset, name: str) -> None:
    """Also leaves references dangling (the org a user, domain or order points at)."""
    table = data[name]
    if len(table) >= 2:
        del table[draw(st.integers(1, len(table) - 1))]


def _drop_column(draw: st.DrawFn, data: Dataset, name: str) -> None:
    table = data[name]
    if table and table[0]:
        index = draw(st.integers(0, len(table[0]) - 1))
        for row in table:
            if index < len(row):
                del row[index]


def _add_column(draw: st.DrawFn, data: Dataset, name: str) -> None:
    table = data[name]
    if not table:
        return
    title = draw(st.one_of(st.sampled_from(["notes", "", " ", *table[0]]), st.text(max_size=10)))
    table[0].append(title)
    for row in table[1:]:
        row.append(draw(st.sampled_from(["", "x", "org-acme"])))


def _reorder_columns(draw: st.DrawFn, data: Dataset, name: str) -> None:
    """Harmless on its own: columns are found by their title."""
    table = data[name]
    if not table:
        return
    order = draw(st.permutations(range(len(table[0]))))
    data[name] = [[row[i] for i in order] if len(row) == len(order) else row for row in table]


def _reshape_row(draw: st.DrawFn, data: Dataset, name: str) -> None:
    """A truncated row, or one with cells the header does not have."""
    table = data[name]
    if len(table) < 2:
        return
    row = table[draw(st.integers(1, len(table) - 1))]
    keep = draw(st.integers(0, len(row) + 2))
    row[:] = row[:keep] + ["extra"] * max(0, keep - len(row))


def _empty_file(draw: st.DrawFn, data: Dataset, name: str) -> None:
    data[name] = draw(st.sampled_from([[], data[name][:1]]))  # no header, or header only


def _delete_file(draw: st.DrawFn, data: Dataset, name: str) -> None:
    del data[name]


Edit = Callable[[st.DrawFn, Dataset, str], None]
# Cell edits weigh most: that is where the parsers' edges are.
EDITS: list[Edit] = [
    _edit_cell,
    _edit_cell,
    _edit_cell,
    _edit_cell,
    _duplicate_row,
    _drop_row,
    _drop_column,
    _add_column,
    _reorder_columns,
    _reshape_row,
    _empty_file,
    _delete_file,
]


def _serialise(table: Table, line_end: str) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator=line_end).writerows(table)
    return out.getvalue().encode("utf-8")


def _damage_bytes(draw: st.DrawFn, raw: bytes) -> bytes:
    """What happens to files on their way: a BOM, non-UTF-8 bytes (Latin-1 from a
    spreadsheet, a cut multi-byte character), a stray quote, a truncated copy."""
    kind = draw(st.sampled_from(["bom", "bytes", "latin1", "quote", "truncate"]))
    at = draw(st.integers(0, len(raw)))
    if kind == "bom":
        return b"\xef\xbb\xbf" + raw
    if kind == "bytes":
        return raw[:at] + draw(st.binary(min_size=1, max_size=4)) + raw[at:]
    if kind == "latin1":
        return raw.decode("utf-8").encode("latin-1", errors="replace")
    if kind == "quote":
        return raw[:at] + b'"' + raw[at:]
    return raw[:at]


@st.composite
def damaged_datasets(draw: st.DrawFn) -> dict[str, bytes]:
    """The mini dataset's files as bytes, after one to four edits; sometimes none (the
    accepting path must be reached too: a re-import, CRLF, a BOM, reordered columns)."""
    data = mini_dataset()
    for _ in range(draw(st.integers(0, 4))):
        if not data:
            break
        name = draw(st.sampled_from(sorted(data)))
        draw(st.sampled_from(EDITS))(draw, data, name)
    line_end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    files = {name: _serialise(table, line_end) for name, table in data.items()}
    for name in draw(st.lists(st.sampled_from(sorted(files)), max_size=2, unique=True)):
        files[name] = _damage_bytes(draw, files[name])
    return files


# --- the properties ---------------------------------------------------------------------


def database_rows(db: Database) -> dict[str, list[str]]:
    """Every row of every table of the system of record, in a comparable form."""
    with db.engine.connect() as conn:
        return {
            table.name: sorted(repr(tuple(row)) for row in conn.execute(select(table)))
            for table in Base.metadata.sorted_tables
        }


def write_dataset(directory: Path, files: dict[str, bytes]) -> None:
    directory.mkdir()
    for name, raw in files.items():
        (directory / name).write_bytes(raw)


def assert_says_where_and_why(error: FieldError, files: dict[str, bytes]) -> None:
    """A reason a person can act on: the file, the column (or "(row)" for the row or file
    as a whole), the line when the problem is on one, and what is wrong."""
    assert isinstance(error, FieldError)
    assert error.reason.strip(), error
    assert error.file in SPECS, error
    assert error.field.strip(), error
    if error.field == ROW:
        return
    assert error.line is not None, error  # a column's problem is on some line
    raw = files[error.file]
    assert 1 <= error.line <= len(raw.splitlines()), error
    if error.line == 1:  # the header: a title as typed, or where an untitled column is
        return
    named = error.field.split(" + ")  # duplicates name the whole key
    assert set(named) <= set(SPECS[error.file].column_names), error
    cell = len(named) == 1 and not error.reason.startswith("duplicate")  # not normalised
    if cell and error.value and '"' not in error.value:
        # The refused cell is shown as the file has it (quotes aside: CSV doubles them).
        assert error.value in raw.decode("utf-8-sig"), error


@pytest.fixture(scope="module")
def loaded(module_db: Database) -> Database:
    """A database holding the mini dataset (refusals must keep rows, not just keep out),
    one per backend for the whole module: a schema costs a second, an example tens of
    milliseconds. Imports that succeed accumulate, which only widens what later ones meet."""
    import_dataset(module_db, MINI, ACTOR)
    return module_db


@DB_EXAMPLES
@given(damaged_datasets())
def test_an_import_loads_or_refuses_with_reasons_and_a_refusal_changes_nothing(
    loaded: Database, files: dict[str, bytes]
) -> None:
    before = database_rows(loaded)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "dataset"
        write_dataset(directory, files)
        try:
            import_dataset(loaded, directory, ACTOR)
        except InvalidInput as exc:
            event("refused")
            assert exc.errors
            for error in exc.errors:
                assert_says_where_and_why(error, files)
            assert "nothing was" in exc.summary
            assert database_rows(loaded) == before
            return
    event("accepted")
    assert set(files) >= {spec.name for spec in FILES if spec.required}


# --- regressions the properties found ---------------------------------------------------


def _with_cell(file: str, line: int, column: str, value: str) -> Dataset:
    data = mini_dataset()
    table = data[file]
    table[line - 1][table[0].index(column)] = value
    return data


def _with_untitled_columns() -> Dataset:
    """A spreadsheet's export with two empty columns at the end of every row."""
    data = mini_dataset()
    data["labels.csv"] = [[*row, "", ""] for row in data["labels.csv"]]
    return data


REFUSED = [
    pytest.param(
        _with_cell("orgs.csv", 2, "created_at", "0001-01-01T00:00:00+01:00"),
        "orgs.csv:2: created_at: outside the years 1 to 9999 once converted to UTC "
        "(got '0001-01-01T00:00:00+01:00')",
        id="year-0-in-utc",  # was OverflowError
    ),
    pytest.param(
        _with_cell("users.csv", 2, "last_activity_at", "9999-12-31T23:00:00-05:00"),
        "users.csv:2: last_activity_at: outside the years 1 to 9999 once converted to UTC "
        "(got '9999-12-31T23:00:00-05:00')",
        id="year-10000-in-utc",  # was OverflowError
    ),
    pytest.param(
        _with_cell("order_lines.csv", 2, "quantity", "2147483648"),
        "order_lines.csv:2: quantity: at most 2147483647 (got '2147483648')",
        id="quantity-over-int32",  # was NumericValueOutOfRange on PostgreSQL
    ),
    pytest.param(
        _with_cell("order_lines.csv", 2, "quantity", "9" * 25),
        f"order_lines.csv:2: quantity: at most 2147483647 (got '{'9' * 25}')",
        id="quantity-over-int64",  # was OverflowError on SQLite
    ),
    pytest.param(
        _with_cell("orgs.csv", 2, "name", "Acme\x00Logistik AB"),
        "orgs.csv:2: name: contains a NUL character (got 'Acme\\x00Logistik AB')",
        id="nul-in-text",  # was DataError on PostgreSQL
    ),
    pytest.param(
        _with_cell("orders.csv", 2, "partner_id", "org-\x00fjord"),
        "orders.csv:2: partner_id: contains a NUL character (got 'org-\\x00fjord')",
        id="nul-in-id",  # was DataError on PostgreSQL
    ),
    pytest.param(
        _with_untitled_columns(),
        "labels.csv:1: (column 4): a second column without a title",
        id="two-untitled-columns",  # was "labels.csv:1: : the column appears twice…"
    ),
]


@pytest.mark.parametrize(("data", "message"), REFUSED)
def test_refused_with_the_cell_named_and_nothing_changed(
    loaded: Database, tmp_path: Path, data: Dataset, message: str
) -> None:
    directory = tmp_path / "dataset"
    write_dataset(directory, {name: _serialise(table, "\n") for name, table in data.items()})
    before = database_rows(loaded)
    with pytest.raises(InvalidInput) as refused:
        import_dataset(loaded, directory, ACTOR)
    assert [str(error) for error in refused.value.errors] == [message]
    assert database_rows(loaded) == before


def test_a_name_longer_once_transliterated_is_imported_and_found(
    loaded: Database, tmp_path: Path
) -> None:
    """255 Chinese characters fit the name column, but their Latin spelling did not fit
    the search key's (PostgreSQL refused the whole import)."""
    name = "龍" * 255
    directory = tmp_path / "dataset"
    data = _with_cell("orgs.csv", 4, "name", name)  # org-acme-sales
    write_dataset(directory, {file: _serialise(table, "\n") for file, table in data.items()})
    import_dataset(loaded, directory, ACTOR)
    with loaded.read() as session:
        org = session.get(Org, "org-acme-sales")
        assert org is not None and org.name == name
        assert org.name_key.startswith("longlong") and len(org.name_key) <= 255
