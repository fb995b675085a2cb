"""Properties of the setup rules over arbitrary input: they refuse only with InvalidInput
(or a FieldError), every refusal says where and why, and what they accept is sound."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import pycountry
from hypothesis import event, given, settings
from hypothesis import strategies as st

from provisioning.errors import FieldError, InvalidInput
from provisioning.rules import (
    CALLING_LANGUAGES,
    INDUSTRY_VERTICALS,
    LABEL_PATTERN,
    LOCATION_FIELDS,
    MAX_LENGTH,
    MAX_NAME_LENGTH,
    MAX_SITES,
    MAX_TAKEN_LOOKUPS,
    MIN_LENGTH,
    RESERVED_SITE_NAMES,
    USERS_MANAGED_IN,
    canonical_industry,
    check_industry,
    check_site_name,
    check_timezone,
    default_timezone,
    name_label,
    normalise_site_name,
    parse_site_option,
    suggest_site_names,
    validate_location,
    validate_meetings,
)

EXAMPLES = settings(max_examples=200, deadline=None)
# For set look-ups and one-liners: more examples would find nothing new.
FEW_EXAMPLES = settings(max_examples=100, deadline=None)

# Text that is sometimes right: the happy paths must be reached, not only the refusals.
# Alphabets rather than `from_regex`: as strong here, and several times cheaper to draw.
label_like = st.text(alphabet="abcxyz019-", min_size=1, max_size=MAX_LENGTH + 2)
site_names = st.one_of(
    st.text(max_size=50),
    label_like,
    st.sampled_from(["www", "Acme", "acme--x", "12345", "sjöberg", "ab", "acme"]),
)
zones = st.one_of(
    st.sampled_from(["Europe/Stockholm", "UTC", "America/New_York", "CET", "US/Eastern"]),
    st.text(max_size=30),
)
licence_values = st.one_of(
    st.integers(min_value=-5, max_value=300),
    st.integers(min_value=-5, max_value=300).map(str),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.none(),
    st.booleans(),
)
countries = st.one_of(
    # Not CN or BR: their address data is 0.6-0.9 MB of JSON, read on every call.
    st.sampled_from(["SE", "se", "US", "DE", "GB", "JP", "KR", "AE", "IN", "Sweden", "XX"]),
    st.text(max_size=4),
)
maybe_text = st.one_of(st.none(), st.text(max_size=20))


def assert_well_formed(errors: Sequence[FieldError]) -> None:
    assert errors
    for error in errors:
        assert isinstance(error, FieldError)
        assert error.field.strip()
        assert error.reason.strip()


def assert_is_site_name(name: str) -> None:
    assert LABEL_PATTERN.fullmatch(name)
    assert MIN_LENGTH <= len(name) <= MAX_LENGTH
    assert name not in RESERVED_SITE_NAMES
    assert name[2:4] != "--"
    assert not name.isdigit()


@EXAMPLES
@given(site_names)
def test_a_site_name_is_accepted_only_when_it_is_a_proper_label(name: str) -> None:
    errors = check_site_name(name)
    if errors:
        assert_well_formed(errors)
        assert all(error.field == "site" for error in errors)
    else:
        assert_is_site_name(name)


@FEW_EXAMPLES
@given(st.text(max_size=50))
def test_normalising_is_idempotent_and_never_adds_upper_case(raw: str) -> None:
    once = normalise_site_name(raw)
    assert normalise_site_name(once) == once
    assert all("use lower-case" not in e.reason for e in check_site_name(once))


@EXAMPLES
@given(
    st.text(max_size=60),
    st.one_of(st.none(), st.text(max_size=3)),
    st.integers(min_value=0, max_value=8),
    st.integers(min_value=1, max_value=4),
)
def test_suggestions_are_valid_free_distinct_and_few_lookups(
    company: str, country: str | None, count: int, every: int
) -> None:
    calls: list[Sequence[str]] = []
    used: set[str] = set()

    def taken(names: Sequence[str]) -> set[str]:
        """Every `every`-th candidate of each batch is in use (1: all of them)."""
        calls.append(names)
        in_use = {name for index, name in enumerate(names) if index % every == 0}
        used.update(in_use)
        return in_use

    names = suggest_site_names(company, taken, country=country, count=count)
    if every > 1 and name_label(company) is not None:
        assert len(names) == count  # half the names taken: numbered variants fill up
    assert len(names) <= count
    assert len(set(names)) == len(names)
    assert not set(names) & used
    for name in names:
        assert_is_site_name(name)
    assert len(calls) <= MAX_TAKEN_LOOKUPS


@FEW_EXAMPLES
@given(zones)
def test_an_accepted_time_zone_loads(zone: str) -> None:
    error = check_timezone(zone)
    if error is None:
        assert ZoneInfo(zone).key == zone
    else:
        assert_well_formed([error])


@FEW_EXAMPLES
@given(st.one_of(st.sampled_from(INDUSTRY_VERTICALS).map(str.upper), st.text(max_size=20)))
def test_an_industry_is_a_listed_one_or_refused_with_a_reason(value: str) -> None:
    error = check_industry(value)
    try:
        canonical = canonical_industry(value)
    except InvalidInput as exc:
        assert error is not None
        assert_well_formed(exc.errors)
    else:
        assert error is None
        assert canonical in INDUSTRY_VERTICALS


@FEW_EXAMPLES
@given(st.one_of(st.sampled_from(["SE", "us", "AU", "XX"]), st.text(max_size=4)))
def test_a_default_time_zone_is_always_an_accepted_one(country: str) -> None:
    zone = default_timezone(country)
    assert zone is None or check_timezone(zone) is None


SITE_PARTS = ("name", "licences")
MEETINGS_FIELDS = {"sites", "licences", "timezone", "users_managed_in"}


@FEW_EXAMPLES
@given(st.one_of(st.text(max_size=20), st.builds("{}:{}".format, site_names, licence_values)))
def test_a_site_option_splits_at_its_first_colon_or_is_refused_naming_it(text: str) -> None:
    try:
        name, licences = parse_site_option(text)
    except InvalidInput as exc:
        assert ":" not in text
        assert [e.field for e in exc.errors] == ["--site"]
        assert_well_formed(exc.errors)
    else:
        assert f"{name}:{licences}" == text and ":" not in name


@st.composite
def balanced_sites(draw: st.DrawFn) -> tuple[list[tuple[str, object]], int]:
    """Sites whose licences add up to the order's total: the accepting path."""
    names = draw(
        st.lists(
            st.text(alphabet="abcdefxyz", min_size=MIN_LENGTH, max_size=10),
            min_size=1,
            max_size=6,
            unique=True,
        )
    )
    counts = [draw(st.integers(min_value=1, max_value=500)) for _ in names]
    return [(name, str(n)) for name, n in zip(names, counts, strict=True)], sum(counts)


@EXAMPLES
@given(
    st.one_of(
        balanced_sites(),
        st.tuples(
            st.lists(st.tuples(site_names, licence_values), max_size=6),
            st.integers(min_value=0, max_value=600),
        ),
    ),
    zones,
    st.booleans(),
    st.one_of(st.sampled_from(USERS_MANAGED_IN), st.text(max_size=12)),
)
def test_meetings_refuse_only_with_reasons_and_accept_only_sound_setups(
    sites_and_total: tuple[list[tuple[str, object]], int],
    zone: str,
    early_release: bool,
    managed_in: str,
) -> None:
    sites, total = sites_and_total
    try:
        setup = validate_meetings(sites, zone, early_release, managed_in, total)
    except InvalidInput as exc:
        assert_well_formed(exc.errors)
        # Each reason names a field the form has, a site by the row the person sees.
        rows = {f"site[{n}].{part}" for n in range(1, len(sites) + 1) for part in SITE_PARTS}
        assert {e.field for e in exc.errors} <= rows | MEETINGS_FIELDS
        event("refused")
        return
    event("accepted")
    assert 1 <= len(setup.sites) <= MAX_SITES
    for site in setup.sites:
        assert_is_site_name(site.name)
        assert isinstance(site.licences, int) and site.licences >= 1
    assert len({site.name for site in setup.sites}) == len(setup.sites)
    assert sum(site.licences for site in setup.sites) == total
    assert check_timezone(setup.timezone) is None
    assert setup.users_managed_in in USERS_MANAGED_IN


# Real addresses, so that arbitrary names, languages and SIP addresses also meet the
# accepting path: (country, line 1, city, postal code, state).
ADDRESSES = [
    ("SE", "Drottninggatan 1", "Stockholm", "111 51", None),
    ("se", "Storgatan 2", "Malmö", "21122", ""),
    ("US", "170 West Tasman Dr", "San Jose", "95134", "California"),
    ("GB", "10 Downing St", "London", "sw1a 2aa", None),
    ("DE", "Unter den Linden 1", "Berlin", "10117", None),
    ("JP", "1-1 Chiyoda", "Chiyoda-ku", "100-0001", "Tokyo"),
    ("AE", "1 Sheikh Zayed Rd", "Dubai", "", "Dubai"),
]
languages = st.one_of(
    st.none(),
    st.sampled_from(CALLING_LANGUAGES).map(lambda code: code.upper().replace("_", "-")),
    st.sampled_from(CALLING_LANGUAGES),
    st.text(max_size=6),
)
random_locations = st.fixed_dictionaries(
    {
        "name": st.text(max_size=90),
        "country": countries,
        "timezone": st.one_of(st.none(), zones),
        "preferred_language": languages,
        "announcement_language": languages,
        "address_line1": st.text(max_size=20),
        "address_line2": maybe_text,
        "city": st.text(max_size=20),
        "postal_code": st.text(max_size=8),
        "state_code": maybe_text,
        "sip_address": maybe_text,
        "company_name": maybe_text,
    }
)


@st.composite
def plausible_locations(draw: st.DrawFn) -> dict[str, object]:
    country, line1, city, postal, state = draw(st.sampled_from(ADDRESSES))
    return {
        "name": draw(st.one_of(st.just("Head office"), st.text(max_size=90))),
        "country": country,
        "timezone": draw(st.one_of(st.none(), zones)),
        "preferred_language": draw(languages),
        "announcement_language": draw(languages),
        "address_line1": line1,
        "address_line2": draw(maybe_text),
        "city": city,
        "postal_code": postal,
        "state_code": state,
        "sip_address": draw(st.one_of(st.none(), st.just("acme.calls.webex.com"), maybe_text)),
        "company_name": draw(maybe_text),
    }


@EXAMPLES
@given(st.one_of(random_locations, plausible_locations()))
def test_locations_refuse_only_with_reasons_and_accept_only_sound_ones(
    fields: dict[str, Any],
) -> None:
    try:
        hq = validate_location(**fields)
    except InvalidInput as exc:
        assert_well_formed(exc.errors)
        assert {e.field for e in exc.errors} <= set(LOCATION_FIELDS)  # the form's own
        event("refused")
        return
    event("accepted")
    assert hq.name and hq.name == hq.name.strip() and len(hq.name) <= MAX_NAME_LENGTH
    assert pycountry.countries.get(alpha_2=hq.country) is not None
    assert check_timezone(hq.timezone) is None
    assert {hq.preferred_language, hq.announcement_language} <= set(CALLING_LANGUAGES)
    assert hq.address_line1 and hq.city
    if hq.sip_address is not None:
        assert all(LABEL_PATTERN.fullmatch(label) for label in hq.sip_address.split("."))
