"""Rendering command results: readable tables for people, JSON / JSON lines for scripts."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
from tabulate import tabulate

from provisioning.errors import FieldError, InvalidInput

FORMATS = ("table", "json", "jsonl")


def _default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def to_json(value: object) -> str:
    return json.dumps(value, default=_default, ensure_ascii=False)


def emit_rows(rows: Iterable[Mapping[str, Any]], fmt: str, columns: Sequence[str]) -> None:
    """Print many rows; `jsonl` streams one object per line without holding them all."""
    if fmt == "jsonl":
        for row in rows:
            click.echo(to_json(dict(row)))
        return
    materialised = [dict(row) for row in rows]
    if fmt == "json":
        click.echo(json.dumps(materialised, default=_default, ensure_ascii=False, indent=2))
        return
    if not materialised:
        click.echo("(none)")
        return
    table = [[_cell(row.get(c)) for c in columns] for row in materialised]
    click.echo(tabulate(table, headers=list(columns), tablefmt="simple"))


def emit_object(obj: Mapping[str, Any], fmt: str) -> None:
    """Print one record: key/value lines for people, one JSON object for scripts."""
    if fmt in ("json", "jsonl"):
        click.echo(
            json.dumps(
                obj, default=_default, ensure_ascii=False, indent=None if fmt == "jsonl" else 2
            )
        )
        return
    click.echo(tabulate([[k, _cell(v)] for k, v in obj.items()], tablefmt="plain"))


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list | dict):
        return to_json(value)
    return str(value)


def write_file(path: Path, data: bytes, option: str) -> None:
    """Write `data` to `path` whole or not at all: a temporary file beside it, then
    renamed into place; a path that cannot be written is refused naming `option`."""
    try:
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f".{path.name}.", suffix=".partial", delete=False
        ) as handle:
            handle.write(data)
            temporary = Path(handle.name)
        try:
            os.replace(temporary, path)
        except OSError:
            temporary.unlink(missing_ok=True)
            raise
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InvalidInput(
            FieldError(option, f"cannot write there: {reason}", value=str(path))
        ) from None
