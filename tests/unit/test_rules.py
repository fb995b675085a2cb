"""Service-setup rules as a person meets them: what is refused, in which field, and why."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from provisioning.errors import FieldError, InvalidInput
from provisioning.rules import (
    CALLING_LANGUAGES,
    INDUSTRY_VERTICALS,
    LABEL_PATTERN,
    MAX_LENGTH,
    MAX_SITES,
    MAX_TAKEN_LOOKUPS,
    SiteRequest,
    canonical_industry,
    check_host_name,
    check_industry,
    check_site_name,
    check_timezone,
    default_language,
    default_sip_address,
    default_timezone,
    normalise_site_name,
    parse_site_option,
    suggest_site_names,
    timezones_for_country,
    validate_location,
    validate_meetings,
)


def refusals(exc: pytest.ExceptionInfo[InvalidInput]) -> dict[str, str]:
    """field -> the reasons given for it, joined: what a form shows beside each field."""
    by_field: dict[str, list[str]] = {}
    for error in exc.value.errors:
        by_field.setdefault(error.field, []).append(error.reason)
    return {field: " | ".join(reasons) for field, reasons in by_field.items()}


class TakenRecorder:
    """A `taken` callback over a fixed set of used names, remembering every call."""

    def __init__(self, used: set[str] | None = None, *, everything: bool = False) -> None:
        self.used = used or set()
        self.everything = everything
        self.calls: list[list[str]] = []

    def __call__(self, names: Sequence[str]) -> set[str]:
        self.calls.append(list(names))
        return set(names) if self.everything else {n for n in names if n in self.used}


# --- industries -------------------------------------------------------------------------


def test_industry_list_has_what_the_demo_data_uses() -> None:
    """Orgs of the demo world (customers' verticals, partners' "IT Services") could all
    have been created through `orders create-org`."""
    from provisioning.demo.world import INDUSTRIES

    assert set(INDUSTRIES) | {"IT Services", "Other"} <= set(INDUSTRY_VERTICALS)
    assert len(set(INDUSTRY_VERTICALS)) == len(INDUSTRY_VERTICALS)


def test_industry_is_matched_without_regard_to_case() -> None:
    assert check_industry("public sector") is None
    assert canonical_industry("  HEALTHCARE ") == "Healthcare"
    assert canonical_industry("non profit") == "Non-profit"


def test_unknown_industry_names_the_field_and_the_closest_choices() -> None:
    error = check_industry("Helthcare", field="org.industry")
    assert error is not None
    assert error.field == "org.industry"
    assert "Healthcare" in error.reason
    with pytest.raises(InvalidInput) as exc:
        canonical_industry("")
    assert refusals(exc) == {"industry": "required"}


# --- time zones -------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["Europe/Stockholm", "America/New_York", "UTC", "Etc/UTC"])
def test_place_based_zones_and_utc_are_accepted(zone: str) -> None:
    assert check_timezone(zone) is None


@pytest.mark.parametrize(
    ("zone", "words"),
    [
        ("CET", "abbreviation"),
        ("EST", "abbreviation"),
        ("Etc/GMT+1", "fixed offset"),
        ("US/Eastern", "'America/New_York'"),
        ("Asia/Calcutta", "'Asia/Kolkata'"),
        ("europe/stockholm", "did you mean 'Europe/Stockholm'"),
        ("Mars/Olympus_Mons", "unknown"),
        ("", "required"),
    ],
)
def test_other_zone_names_are_refused_with_a_way_forward(zone: str, words: str) -> None:
    error = check_timezone(zone, field="site.timezone")
    assert error is not None
    assert error.field == "site.timezone"
    assert words in error.reason


@pytest.mark.parametrize(
    ("country", "zone"),
    [
        ("SE", "Europe/Stockholm"),
        ("US", "America/New_York"),
        ("DE", "Europe/Berlin"),
        ("au", "Australia/Sydney"),
        ("CA", "America/Toronto"),
        ("XX", None),
    ],
)
def test_default_timezone_per_country(country: str, zone: str | None) -> None:
    assert default_timezone(country) == zone


def test_a_country_lists_its_zones_default_first() -> None:
    us = timezones_for_country("US")
    assert us[0] == "America/New_York"
    assert {"America/Chicago", "America/Los_Angeles", "Pacific/Honolulu"} <= set(us)
    assert all(check_timezone(zone) is None for zone in us)
    assert timezones_for_country("SE") == ["Europe/Stockholm"]


# --- site names -------------------------------------------------------------------------


def test_a_reserved_name_is_refused_naming_the_site_field() -> None:
    [error] = check_site_name("www")
    assert error.field == "site"
    assert "reserved" in error.reason


def test_upper_case_is_reported_not_silently_fixed() -> None:
    errors = check_site_name("AcmeLogistik", field="site[1].name")
    assert [e.reason for e in errors] == ["use lower-case letters"]
    assert errors[0].field == "site[1].name"
    assert check_site_name(normalise_site_name("  AcmeLogistik ")) == []


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("", "required"),
        ("ab", "at least 3"),
        ("a" * (MAX_LENGTH + 1), f"at most {MAX_LENGTH}"),
        ("-acme", "start with a hyphen"),
        ("acme-", "end with a hyphen"),
        ("xn--acme", "'--'"),
        ("12345", "not only digits"),
        ("acme.se", "'.'"),
        ("sjöberg", "'ö'"),
        ("acme logistik", "' '"),
        ("\u212aelvin", "'\u212a'"),  # the Kelvin sign, which lower-cases to "k"
        ("acme\u00b2", "'²'"),
    ],
)
def test_each_rule_of_a_site_name_has_its_reason(name: str, words: str) -> None:
    reasons = [e.reason for e in check_site_name(name)]
    assert any(words in reason for reason in reasons), reasons


def test_every_reason_is_given_at_once() -> None:
    reasons = [e.reason for e in check_site_name("-A.-")]
    assert reasons == [
        "use lower-case letters",
        "only letters a-z, digits and hyphens are allowed, not '.'",
        "must not start with a hyphen",
        "must not end with a hyphen",
    ]


def test_good_names_pass() -> None:
    for name in ("acme", "acme-logistik", "a1b", "sjoberg-media-se", "x" * MAX_LENGTH):
        assert check_site_name(name) == []


def test_suggestions_for_a_swedish_company_are_transliterated_without_legal_form() -> None:
    taken = TakenRecorder()
    names = suggest_site_names("Sjöberg Media AB", taken, country="SE")
    assert names[:2] == ["sjoberg-media", "sjobergmedia"]
    assert "sjoberg-media-se" in names
    assert len(names) == 5
    assert len(taken.calls) == 1


def test_suggestions_exclude_taken_names_and_ask_once_for_a_batch() -> None:
    taken = TakenRecorder({"acme-logistik", "acmelogistik", "acme", "acme-logistik-2"})
    names = suggest_site_names("Acme Logistik AB", taken, country="se", count=5)
    assert len(names) == 5
    assert not set(names) & taken.used
    assert all(check_site_name(name) == [] for name in names)
    assert names[0] == "acme-logistik-se"
    assert len(taken.calls) == 1
    assert {"acme-logistik", "acme", "acme-logistik-2"} <= set(taken.calls[0])


def test_when_every_obvious_name_is_taken_numbered_variants_fill_up_in_few_lookups() -> None:
    used = {"globex"} | {f"globex-{n}" for n in range(2, 40)}
    taken = TakenRecorder(used)
    names = suggest_site_names("Globex Inc.", taken, count=5)
    assert names == [f"globex-{n}" for n in range(40, 45)]
    assert 1 < len(taken.calls) <= MAX_TAKEN_LOOKUPS


def test_the_taken_callback_is_called_a_bounded_number_of_times() -> None:
    taken = TakenRecorder(everything=True)
    assert suggest_site_names("Initech", taken) == []
    assert len(taken.calls) == MAX_TAKEN_LOOKUPS


def test_short_long_and_odd_company_names_still_give_valid_suggestions() -> None:
    for company in ("HP", "3M", "123", "The Very Long International Holding Company Of Names Ltd"):
        names = suggest_site_names(company, TakenRecorder(), country="US")
        assert len(names) == 5, company
        assert all(check_site_name(name) == [] for name in names), names
    assert suggest_site_names("!!!", TakenRecorder()) == []


# --- meetings ---------------------------------------------------------------------------


def meetings(sites: Sequence[tuple[str, object]] | Sequence[SiteRequest], **kw: Any) -> Any:
    args: dict[str, Any] = {
        "timezone": "Europe/Stockholm",
        "early_release": False,
        "users_managed_in": "control_hub",
        "total_licences": 250,
    }
    return validate_meetings(sites, **(args | kw))


def test_a_250_licence_order_split_200_and_50_is_accepted() -> None:
    setup = meetings([("Acme", "200"), ("acme-lab", 50)])
    assert [(s.name, s.licences) for s in setup.sites] == [("acme", 200), ("acme-lab", 50)]
    assert setup.total_licences == 250
    assert setup.timezone == "Europe/Stockholm"


def test_a_split_that_misses_the_total_is_refused_with_both_sums() -> None:
    with pytest.raises(InvalidInput) as exc:
        meetings([("acme", "200"), ("acme-lab", "40")])
    assert refusals(exc) == {"licences": "sites have 240 licences; the order has 250"}


def test_site_requests_are_accepted_as_well_as_pairs() -> None:
    setup = meetings([SiteRequest("acme", 250)])
    assert setup.sites == (SiteRequest("acme", 250),)


def test_a_single_site_without_a_number_gets_the_whole_order() -> None:
    assert meetings([("acme", None)]).sites == (SiteRequest("acme", 250),)
    with pytest.raises(InvalidInput) as exc:
        meetings([("acme", None), ("acme-lab", "250")])
    assert refusals(exc) == {"site[1].licences": "required"}


def test_every_meetings_error_is_reported_at_once() -> None:
    with pytest.raises(InvalidInput) as exc:
        meetings(
            [("acme", "2.5"), ("www", "0"), ("ACME", "10")],
            timezone="CET",
            users_managed_in="somewhere",
        )
    found = refusals(exc)
    assert set(found) == {
        "site[1].licences",
        "site[2].name",
        "site[2].licences",
        "site[3].name",
        "timezone",
        "users_managed_in",
    }
    assert found["site[1].licences"] == "not a whole number"
    assert found["site[2].licences"] == "must be at least 1"
    assert "reserved" in found["site[2].name"]
    assert found["site[3].name"] == "same as site[1]"
    assert "control_hub, site_admin" in found["users_managed_in"]


def test_no_sites_and_too_many_sites_are_refused() -> None:
    with pytest.raises(InvalidInput) as exc:
        meetings([])
    assert refusals(exc) == {"sites": "add at least one site"}
    many = [(f"site-{n:03d}", 5) for n in range(MAX_SITES + 1)]
    with pytest.raises(InvalidInput) as exc:
        meetings(many, total_licences=5 * len(many))
    assert refusals(exc) == {"sites": f"at most {MAX_SITES} sites per subscription, got 51"}
    assert len(meetings(many[:MAX_SITES], total_licences=5 * MAX_SITES).sites) == MAX_SITES


def test_booleans_are_not_licence_counts() -> None:
    with pytest.raises(InvalidInput) as exc:
        meetings([("acme", True)], total_licences=1)
    assert refusals(exc) == {"site[1].licences": "not a whole number"}


def test_site_option_syntax() -> None:
    assert parse_site_option("acme:200") == ("acme", "200")
    assert parse_site_option("acme:") == ("acme", "")
    with pytest.raises(InvalidInput) as exc:
        parse_site_option("acme")
    assert list(refusals(exc)) == ["--site"]
    assert "NAME:LICENCES" in exc.value.errors[0].reason


# --- locations --------------------------------------------------------------------------


def location(**kw: Any) -> Any:
    args: dict[str, Any] = {
        "name": "Stockholm HQ",
        "country": "SE",
        "address_line1": "Drottninggatan 1",
        "city": "Stockholm",
        "postal_code": "111 51",
    }
    return validate_location(**(args | kw))


def test_a_swedish_location_gets_its_defaults_from_the_country() -> None:
    hq = location(country="se", company_name="Sjöberg Media AB")
    assert hq.country == "SE"
    assert hq.timezone == "Europe/Stockholm"
    assert (hq.preferred_language, hq.announcement_language) == ("sv_se", "sv_se")
    assert hq.sip_address == "sjoberg-media.calls.webex.com"
    assert hq.state_code is None
    assert hq.address_line2 is None


def test_a_bad_swedish_postal_code_is_refused_naming_postal_code_with_an_example() -> None:
    with pytest.raises(InvalidInput) as exc:
        location(postal_code="1234")
    found = refusals(exc)
    assert list(found) == ["postal_code"]
    assert "not a valid postal code for SE (e.g. " in found["postal_code"]


def test_a_us_address_without_state_is_refused_naming_state_code() -> None:
    with pytest.raises(InvalidInput) as exc:
        location(country="US", city="San Jose", postal_code="95134")
    found = refusals(exc)
    assert list(found) == ["state_code"]
    assert found["state_code"].startswith("required in US")


def test_a_us_state_is_stored_as_its_code_and_must_fit_the_zip() -> None:
    hq = location(country="US", city="San Jose", postal_code="95134", state_code="california")
    assert hq.state_code == "CA"
    assert hq.timezone == "America/New_York"  # the country's default; the form may change it
    with pytest.raises(InvalidInput) as exc:
        location(country="US", city="San Jose", postal_code="10001", state_code="CA")
    assert "not a valid ZIP code for US" in refusals(exc)["postal_code"]
    with pytest.raises(InvalidInput) as exc:
        location(country="US", city="San Jose", postal_code="95134", state_code="Californa")
    assert "did you mean 'CA'" in refusals(exc)["state_code"]


def test_postal_codes_are_written_as_the_country_writes_them() -> None:
    hq = location(country="GB", city="London", postal_code="sw1a 2aa", state_code="England")
    assert hq.postal_code == "SW1A 2AA"
    assert hq.state_code is None  # British addresses have no county line


def test_states_in_another_script_are_found_by_their_latin_name() -> None:
    with pytest.raises(InvalidInput) as exc:
        location(country="CN", city="Beijing", postal_code="100000", state_code="Beijing")
    assert refusals(exc) == {
        "state_code": "not a province of CN (its code or name, did you mean '北京市' "
        "(Beijing Shi)?)"
    }
    hq = location(country="CN", city="Beijing", postal_code="100000", state_code="beijing shi")
    assert (hq.state_code, hq.city, hq.timezone) == ("北京市", "Beijing", "Asia/Shanghai")


def test_an_81_character_location_name_is_refused() -> None:
    assert location(name="x" * 80).name == "x" * 80
    with pytest.raises(InvalidInput) as exc:
        location(name="x" * 81)
    assert refusals(exc) == {"name": "at most 80 characters, got 81"}


def test_every_location_error_is_reported_at_once() -> None:
    with pytest.raises(InvalidInput) as exc:
        location(
            name=" ",
            country="Sweden",
            timezone="CET",
            preferred_language="klingon",
            announcement_language="sv-SE",
            address_line1="",
            city="",
            sip_address="not a host",
        )
    found = refusals(exc)
    assert set(found) == {
        "name",
        "country",
        "timezone",
        "preferred_language",
        "address_line1",
        "city",
        "sip_address",
    }
    assert found["country"] == "use the two-letter code 'SE'"
    assert found["address_line1"] == found["city"] == found["name"] == "required"


def test_languages_are_accepted_in_any_spelling_and_stored_as_webex_spells_them() -> None:
    hq = location(preferred_language="en-GB", announcement_language="sv_SE")
    assert (hq.preferred_language, hq.announcement_language) == ("en_gb", "sv_se")


@pytest.mark.parametrize(
    ("country", "language"),
    [("SE", "sv_se"), ("US", "en_us"), ("DE", "de_de"), ("AT", "de_de"), ("MX", "es_co")],
)
def test_default_language_per_country(country: str, language: str) -> None:
    assert default_language(country) == language
    assert language in CALLING_LANGUAGES


def test_default_language_falls_back_to_us_english() -> None:
    assert default_language("XX") == "en_us"
    assert default_language("KE") in CALLING_LANGUAGES


def test_sip_address_is_prefilled_from_the_company_and_checked_when_given() -> None:
    assert default_sip_address("Acme Logistik AB") == "acme-logistik.calls.webex.com"
    assert default_sip_address("!!!") is None
    hq = location(sip_address="Acme.Calls.Webex.com")
    assert hq.sip_address == "acme.calls.webex.com"
    label = hq.sip_address.partition(".")[0]
    assert LABEL_PATTERN.fullmatch(label)


@pytest.mark.parametrize(
    ("host", "words"),
    [
        ("acme", "needs a domain"),
        ("bücher.de", "'ü'"),
        ("acme..webex.com", "empty part"),
        ("-acme.webex.com", "hyphen"),
        ("10.0.0.1", "not an IP address"),
        (f"{'a' * 64}.webex.com", "at most 63"),
    ],
)
def test_a_sip_address_must_be_an_ascii_host_name(host: str, words: str) -> None:
    reasons = [e.reason for e in check_host_name(host)]
    assert any(words in reason for reason in reasons), reasons
    with pytest.raises(InvalidInput) as exc:
        location(sip_address=host)
    assert list(refusals(exc)) == ["sip_address"]


def test_field_errors_read_well_in_a_terminal() -> None:
    error = FieldError("site[2].name", "reserved; choose another name", value="www")
    assert str(error) == "site[2].name: reserved; choose another name (got 'www')"
