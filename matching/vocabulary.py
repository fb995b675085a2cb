"""The domain's words, shared by the pure matching core and the system of record.

They live in `matching` because the matcher reasons with them and must not import the
database layer; `provisioning` stores them as plain strings.
"""

from __future__ import annotations

from enum import StrEnum


class OrgStatus(StrEnum):
    ACTIVE = "active"
    TRIAL = "trial"
    EXPIRED = "expired"


class DomainStatus(StrEnum):
    """How far an org has proven that it owns a domain (Control Hub's three levels)."""

    UNVERIFIED = "unverified"
    VERIFIED = "verified"
    CLAIMED = "claimed"


class MemberStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class Service(StrEnum):
    MEETINGS = "meetings"
    CALLING = "calling"


class Outcome(StrEnum):
    """The organization finder's three outcomes, as the seed words them."""

    EXACT = "exact"
    DOMAIN = "domain"
    NONE = "none"
