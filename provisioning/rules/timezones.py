"""IANA time zones for Meetings sites and Calling locations.

Accepted names are the place-based zones of tzdata's `zone.tab` (one row per country and
zone, e.g. Europe/Stockholm) plus "UTC" and "Etc/UTC". Everything else that zoneinfo can
load is refused on purpose:

- legacy aliases ("US/Eastern", "Asia/Calcutta") — they still work but Webex and every
  modern list show the current name, so we ask for it (the reason names it);
- abbreviations and fixed-offset zones ("CET", "EST", "EST5EDT", "Etc/GMT+1") — they do
  not follow a place's daylight-saving rules, and "Etc/GMT+1" is UTC-1, a classic trap.

`zone.tab` rather than `zone1970.tab`: the latter merges countries that have shared clocks
since 1970 (Sweden appears only as Europe/Berlin), which is wrong for a person's choice.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from zoneinfo import available_timezones

from babel.core import get_global

from provisioning.errors import FieldError

UTC_NAMES: frozenset[str] = frozenset({"UTC", "Etc/UTC"})
_EXAMPLE = "Europe/Stockholm"
# tzdb's names for time standards rather than places. They are now links to some city
# ("EST" -> America/Panama), so suggesting their link target would only confuse.
_STANDARD_TIMES: frozenset[str] = frozenset(
    {"CET", "EET", "MET", "WET", "EST", "MST", "HST", "EST5EDT", "CST6CDT", "MST7MDT", "PST8PDT"}
)

# zone.tab lists a country's zones from east to west (or north to south), so its first
# row is sometimes a remote edge of the country. The capital's zone is the better default.
_DEFAULT_OVERRIDES: dict[str, str] = {
    "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo",
    "CA": "America/Toronto",
    "FM": "Pacific/Pohnpei",
    "RU": "Europe/Moscow",
    "UA": "Europe/Kyiv",
    "UZ": "Asia/Tashkent",
}


@cache
def _loadable() -> frozenset[str]:
    """Every name zoneinfo can load; `available_timezones` walks the files on each call."""
    return frozenset(available_timezones())


@cache
def _zones_by_country() -> dict[str, tuple[str, ...]]:
    """Country code -> its zones from tzdata's zone.tab, default first."""
    loadable = _loadable()
    text = resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text("utf-8")
    by_country: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        country, _coordinates, zone, *_comment = line.split("\t")
        if zone in loadable:
            by_country.setdefault(country, []).append(zone)
    for country, zone in _DEFAULT_OVERRIDES.items():
        zones = by_country.get(country, [])
        if zone in zones:
            zones.remove(zone)
            zones.insert(0, zone)
    return {country: tuple(zones) for country, zones in by_country.items()}


@cache
def accepted_timezones() -> frozenset[str]:
    """Every name `check_timezone` accepts."""
    zones = {zone for zones in _zones_by_country().values() for zone in zones}
    return frozenset(zones | (UTC_NAMES & _loadable()))


@cache
def _by_folded() -> dict[str, str]:
    return {zone.casefold(): zone for zone in accepted_timezones()}


def check_timezone(value: str, field: str = "timezone") -> FieldError | None:
    """Why `value` is not an accepted IANA time zone, or None (see the module docstring)."""
    if not value.strip():
        return FieldError(field, "required")
    accepted = accepted_timezones()
    if value in accepted:
        return None
    current = get_global("zone_aliases").get(value)
    if current in accepted and value not in _STANDARD_TIMES:
        return FieldError(field, f"a legacy alias; use {current!r}", value=value)
    if value in _loadable():
        return FieldError(
            field,
            f"an abbreviation or fixed offset, not a place; choose a zone such as {_EXAMPLE!r}",
            value=value,
        )
    near = _by_folded().get(value.strip().casefold())
    if near is not None:
        return FieldError(field, f"unknown time zone; did you mean {near!r}?", value=value)
    return FieldError(field, f"unknown IANA time zone (e.g. {_EXAMPLE!r})", value=value)


def timezones_for_country(cc: str) -> list[str]:
    """The zones of an ISO 3166-1 alpha-2 country, its default first; [] if unknown."""
    return list(_zones_by_country().get(cc.strip().upper(), ()))


def default_timezone(cc: str) -> str | None:
    """The zone a form pre-selects for a country: its only zone, or its capital's."""
    zones = _zones_by_country().get(cc.strip().upper())
    return zones[0] if zones else None
