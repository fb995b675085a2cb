"""Parsers for the dataset's cell values: text in, typed value out, `ValueError` with the
reason otherwise. They are the single definition of what a valid cell is, shared by the
importer (validation) and the exporter (the inverse, `format_*`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time
from enum import StrEnum
from functools import lru_cache

import pycountry

from matching.normalize import normalize_domain, normalize_email

Parser = Callable[[str], object]

_COUNTRIES: frozenset[str] = frozenset(c.alpha_2 for c in pycountry.countries)
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no", ""})
# The quantity column is a 32-bit INTEGER on PostgreSQL; SQLite would take up to 2**63 - 1.
INT_MAX = 2**31 - 1
# PostgreSQL text cannot hold NUL; SQLite can, but a dataset valid on one database only is
# not valid. Only the free-text parsers need the check: the others refuse it already.
_NUL = "\x00"


def text(max_length: int) -> Parser:
    def parse(value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        if len(value) > max_length:
            raise ValueError(f"longer than {max_length} characters")
        if _NUL in value:
            raise ValueError("contains a NUL character")
        return value

    return parse


def identifier(value: str) -> str:
    """Ids are opaque but must survive a round trip: no surrounding blanks, ≤ 64 chars."""
    if not value:
        raise ValueError("must not be empty")
    if len(value) > ID_MAX:
        raise ValueError(f"longer than {ID_MAX} characters")
    if value.strip() != value:
        raise ValueError("has leading or trailing blanks")
    if _NUL in value:
        raise ValueError("contains a NUL character")
    return value


ID_MAX = 64


def one_of(values: type[StrEnum]) -> Parser:
    allowed = frozenset(v.value for v in values)
    shown = ", ".join(sorted(allowed))

    def parse(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of {shown}")
        return value

    return parse


@lru_cache(maxsize=512)
def country(value: str) -> str:
    code = value.strip().upper()
    if code not in _COUNTRIES:
        raise ValueError("not an ISO 3166-1 alpha-2 country code")
    return code


def timestamp(value: str) -> datetime:
    """ISO 8601; a date alone is midnight UTC and a time without offset is UTC."""
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("not an ISO 8601 timestamp (e.g. 2026-11-20T10:00:00Z)") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 once in UTC
        raise ValueError("outside the years 1 to 9999 once converted to UTC") from None


def format_timestamp(value: datetime | None) -> str:
    """The inverse of `timestamp`: UTC with `Z`, or the date alone for midnight UTC."""
    if value is None:
        return ""
    value = value.astimezone(UTC).replace(tzinfo=None)
    if value.time() == time.min:
        return value.date().isoformat()
    return f"{value.isoformat()}Z"


def email(value: str) -> str:
    try:
        return normalize_email(value)
    except ValueError as exc:
        raise ValueError(str(exc)) from None


def domain(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    try:
        return normalize_domain(value)
    except ValueError as exc:
        raise ValueError(str(exc)) from None


def positive_int(value: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise ValueError("not a whole number") from None
    if number <= 0:
        raise ValueError("must be a positive whole number")
    if number > INT_MAX:
        raise ValueError(f"at most {INT_MAX}")
    return number


def boolean(value: str) -> bool:
    folded = value.strip().lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise ValueError("must be true or false")


def format_boolean(value: bool) -> str:
    return "true" if value else "false"
