"""The pure validation rules of service setup: no database, no UI, no I/O.

Kept apart from the service layer so that the CLI, the UI and the importer refuse the same
input with the same words, and so that the rules can be tested by the thousand in
milliseconds. Each check returns or raises `provisioning.errors` types: every refusal
names the field and the reason, and one input's errors come all at once.
"""

from provisioning.rules.industries import INDUSTRY_VERTICALS, canonical_industry, check_industry
from provisioning.rules.locations import (
    CALLING_LANGUAGES,
    FALLBACK_LANGUAGE,
    LOCATION_FIELDS,
    MAX_NAME_LENGTH,
    SIP_DOMAIN,
    LocationSetup,
    check_host_name,
    default_language,
    default_sip_address,
    validate_location,
)
from provisioning.rules.meetings import (
    MAX_SITES,
    USERS_MANAGED_IN,
    MeetingsSetup,
    SiteRequest,
    parse_site_option,
    validate_meetings,
)
from provisioning.rules.site_names import (
    LABEL_PATTERN,
    MAX_LENGTH,
    MAX_TAKEN_LOOKUPS,
    MIN_LENGTH,
    RESERVED_SITE_NAMES,
    check_site_name,
    is_valid_site_name,
    name_label,
    normalise_site_name,
    suggest_site_names,
)
from provisioning.rules.timezones import (
    accepted_timezones,
    check_timezone,
    default_timezone,
    timezones_for_country,
)

__all__ = [
    "CALLING_LANGUAGES",
    "FALLBACK_LANGUAGE",
    "INDUSTRY_VERTICALS",
    "LABEL_PATTERN",
    "LOCATION_FIELDS",
    "MAX_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_SITES",
    "MAX_TAKEN_LOOKUPS",
    "MIN_LENGTH",
    "RESERVED_SITE_NAMES",
    "SIP_DOMAIN",
    "USERS_MANAGED_IN",
    "LocationSetup",
    "MeetingsSetup",
    "SiteRequest",
    "accepted_timezones",
    "canonical_industry",
    "check_host_name",
    "check_industry",
    "check_site_name",
    "check_timezone",
    "default_language",
    "default_sip_address",
    "default_timezone",
    "is_valid_site_name",
    "name_label",
    "normalise_site_name",
    "parse_site_option",
    "suggest_site_names",
    "timezones_for_country",
    "validate_location",
    "validate_meetings",
]
