"""The Webex Meetings part of service setup: sites, time zone, licence distribution.

Field names in errors are 1-based, as the person sees the rows: "site[1].name",
"site[2].licences"; "sites" for the list as a whole, "licences" for the distribution,
"timezone", "users_managed_in". The CLI's `--site NAME:LICENCES` options and the UI's rows
are numbered the same way, so "site[2]" is the second one given.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from provisioning.errors import FieldError, InvalidInput
from provisioning.rules.site_names import check_site_name, normalise_site_name
from provisioning.rules.timezones import check_timezone

# Control Hub advises at most 50 sites per subscription.
MAX_SITES = 50
USERS_MANAGED_IN: tuple[str, ...] = ("control_hub", "site_admin")

_WHOLE_NUMBER = re.compile(r"[+-]?\d{1,18}")


@dataclass(frozen=True, slots=True)
class SiteRequest:
    """One site to create and the licences of the order it receives."""

    name: str
    licences: int


@dataclass(frozen=True, slots=True)
class MeetingsSetup:
    """An accepted Meetings setup: every rule below holds for it."""

    sites: tuple[SiteRequest, ...]
    timezone: str
    early_release: bool
    users_managed_in: str

    @property
    def total_licences(self) -> int:
        return sum(site.licences for site in self.sites)


def parse_site_option(text: str) -> tuple[str, str]:
    """Split the CLI's `--site NAME:LICENCES` into its raw parts; `validate_meetings` judges
    them, so that a bad name and a bad number in different options are reported together."""
    name, sep, licences = text.partition(":")
    if not sep:
        raise InvalidInput(
            FieldError("--site", "expected NAME:LICENCES, e.g. acme:200", value=text)
        )
    return name, licences


def validate_meetings(
    sites: Sequence[tuple[str, object]] | Sequence[SiteRequest],
    timezone: str,
    early_release: bool,
    users_managed_in: str,
    total_licences: int,
) -> MeetingsSetup:
    """The setup to create, with names normalised; raises InvalidInput with every error.

    With a single site its licences may be left out (None or ""): it gets the whole order,
    as the workflow asks for a distribution only when there are several sites. The sum of
    licences is checked only when every site's number is valid — otherwise it would report
    a sum nobody typed.
    """
    errors: list[FieldError] = []
    if not sites:
        errors.append(FieldError("sites", "add at least one site"))
    elif len(sites) > MAX_SITES:
        errors.append(
            FieldError("sites", f"at most {MAX_SITES} sites per subscription, got {len(sites)}")
        )
    accepted: list[SiteRequest] = []
    first_seen: dict[str, int] = {}
    for number, site in enumerate(sites, start=1):
        raw_name, raw_licences = (
            (site.name, site.licences) if isinstance(site, SiteRequest) else site
        )
        name = normalise_site_name(raw_name)
        errors.extend(check_site_name(name, f"site[{number}].name"))
        if name and name in first_seen:
            errors.append(
                FieldError(f"site[{number}].name", f"same as site[{first_seen[name]}]", value=name)
            )
        first_seen.setdefault(name, number)
        if _missing(raw_licences) and len(sites) == 1:
            raw_licences = total_licences
        licences = _licences(raw_licences, f"site[{number}].licences", errors)
        if licences is not None:
            accepted.append(SiteRequest(name, licences))
    if sites and len(accepted) == len(sites):
        given = sum(site.licences for site in accepted)
        if given != total_licences:
            errors.append(
                FieldError(
                    "licences",
                    f"sites have {given} licences; the order has {total_licences}",
                )
            )
    timezone_error = check_timezone(timezone)
    if timezone_error is not None:
        errors.append(timezone_error)
    if users_managed_in not in USERS_MANAGED_IN:
        errors.append(
            FieldError(
                "users_managed_in",
                f"must be one of {', '.join(USERS_MANAGED_IN)}",
                value=str(users_managed_in),
            )
        )
    if errors:
        raise InvalidInput(errors)
    return MeetingsSetup(tuple(accepted), timezone, early_release, users_managed_in)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _licences(value: object, field: str, errors: list[FieldError]) -> int | None:
    """A licence count from an int, an integral float (number inputs) or a typed string."""
    number: int | None = None
    if isinstance(value, bool):
        number = None  # True is an int to Python, never a count to a person
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value.strip()):
        number = int(value.strip())
    if _missing(value):
        errors.append(FieldError(field, "required"))
    elif number is None:
        errors.append(FieldError(field, "not a whole number", value=str(value)[:40]))
    elif number < 1:
        errors.append(FieldError(field, "must be at least 1", value=str(number)))
    else:
        return number
    return None
