"""Dates, numbers, countries and languages written the way a reader of each language
expects (CLDR data through Babel), so no page or document formats them by hand.

Times are always shown in UTC and say so: the order's readers sit in different time zones,
and a time without its zone would be read as local time by each of them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as _babel_date
from babel.dates import format_time as _babel_time
from babel.dates import get_datetime_format
from babel.numbers import format_decimal

from provisioning.i18n.catalog import check_language

# The regional variant whose conventions we follow: British English (day before month,
# 24-hour clock) suits an international audience better than US English.
BABEL_LOCALES: dict[str, str] = {"en": "en_GB", "sv": "sv_SE"}


def babel_locale(lang: str) -> Locale:
    """The Babel locale for one of our languages (`en`, `sv`)."""
    return Locale.parse(BABEL_LOCALES[check_language(lang)])


def _as_utc(value: datetime) -> datetime:
    """The database stores aware UTC times; a naive one can only have come from code that
    already meant UTC, so it is read as UTC rather than as the server's local time."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_date(value: date | datetime, lang: str) -> str:
    """`2 Mar 2025` / `2 mars 2025`; a datetime is first taken to its UTC date."""
    if isinstance(value, datetime):
        value = _as_utc(value).date()
    return _babel_date(value, format="medium", locale=babel_locale(lang))


def format_datetime(value: datetime, lang: str) -> str:
    """`2 Mar 2025, 14:05 UTC` / `2 mars 2025 14:05 UTC`: minutes are precise enough for a
    reader, and the locale decides how date and time are joined."""
    locale = babel_locale(lang)
    moment = _as_utc(value)
    day = _babel_date(moment.date(), format="medium", locale=locale)
    clock = _babel_time(moment, format="short", tzinfo=UTC, locale=locale)
    joined = get_datetime_format("medium", locale=locale).replace("'", "")
    return f"{joined.replace('{1}', day).replace('{0}', clock)} UTC"


def format_number(value: int | float | Decimal, lang: str) -> str:
    """`1,250` / `1 250` (Swedish groups with a no-break space, so a number never wraps)."""
    return format_decimal(value, locale=babel_locale(lang))


def country_name(code: str | None, lang: str) -> str | None:
    """The name of an ISO 3166-1 alpha-2 country in `lang` (`SE` → Sweden / Sverige);
    a code CLDR does not know is shown as it is rather than hidden."""
    locale = babel_locale(lang)
    if code is None:
        return None
    return locale.territories.get(code.strip().upper(), code)


def language_name(tag: str | None, lang: str) -> str | None:
    """The name of a language tag such as `sv_SE` or `en-us` in `lang`
    (Swedish (Sweden) / svenska (Sverige)); an unknown tag is shown as it is."""
    locale = babel_locale(lang)
    if tag is None:
        return None
    try:
        named = Locale.parse(tag.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return tag
    return named.get_display_name(locale) or tag
