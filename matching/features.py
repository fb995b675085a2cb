"""The features the scorer sees for each candidate, named and documented.

Each feature is a number computed from the evidence (`Candidate`) and the order; its
documentation is what the analyst's notebooks and `onboard evaluate` show. Counts and
ages are log-scaled (a 5,000-member org is not 1,000 times more likely than a 5-member
one), and a few features are relative to the other candidates of the same order, because
"the org on this domain with most activity" is what an operator actually looks for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from rapidfuzz import fuzz

from matching.candidates import Candidate, CandidateSet, Source
from matching.normalize import name_key
from matching.vocabulary import DomainStatus, OrgStatus

NEVER_ACTIVE_DAYS = 3_650.0  # "never active" sits beyond any real silence


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    doc: str


FEATURES: tuple[Feature, ...] = (
    Feature("exact_email", "the provisioning e-mail is a member of this org"),
    Feature("domain_claimed", "the org claimed the e-mail's registrable domain"),
    Feature("domain_verified", "the org verified the domain (best status: verified)"),
    Feature("domain_unverified", "the org added the domain but never verified it"),
    Feature("members_only", "no domain row, but the org has members on the domain"),
    Feature("subdomain", "the e-mail is on a subdomain of a domain the org holds"),
    Feature("log_active_members", "log(1 + active members of the org)"),
    Feature("domain_member_share", "share of the org's members on the e-mail's domain"),
    Feature("domain_activity_share", "share of the domain's active members that are in this org"),
    Feature("most_active_on_domain", "the candidate with most active members on the domain"),
    Feature("log_days_silent", "log(1 + days since any member was active); never = 10 years"),
    Feature("status_active", "org status is active"),
    Feature("status_trial", "org status is trial (a running trial the order may convert)"),
    Feature("status_expired", "org status is expired"),
    Feature("log_org_age_days", "log(1 + days since the org was created)"),
    Feature("name_similarity", "token-set similarity of company name and org name, 0..1"),
    Feature(
        "name_exactness",
        "token-sort similarity, 0..1: unlike token-set, 'Acme Sales' is not 'Acme'",
    ),
    Feature(
        "name_exactness_gap",
        "name exactness minus the best of the order's other candidates: 'Acme Sales' "
        "typed, the 'Acme Sales' department beats the main 'Acme' org on the same domain",
    ),
    Feature("country_match", "same country as the order (0.5 when either is unknown)"),
    Feature("managed_by_partner", "the ordering partner manages this org"),
    Feature("is_ordering_partner", "this org is the ordering partner itself"),
    Feature("partner_own_address", "the partner typed an address of its own domain"),
    Feature("free_mail", "the provisioning e-mail is on a consumer mail domain"),
    Feature("found_by_name_only", "found only by the global name search"),
    Feature(
        "converts_this_trial",
        "the order converts a running trial and this org is a running trial",
    ),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)


def feature_matrix(found: CandidateSet, now: datetime) -> np.ndarray:
    """One row per candidate of `found` (same order), one column per `FEATURES`."""
    rows = feature_rows(found, now)
    if not rows:
        return np.zeros((0, len(FEATURES)))
    return np.asarray(rows, dtype=float)


def feature_rows(found: CandidateSet, now: datetime) -> list[list[float]]:
    """`feature_matrix` as lists, for callers that stack many orders into one matrix."""
    order_key = name_key(found.order.company_name)
    on_domain = [c.members_on_domain.active for c in found.candidates if c.members_on_domain]
    domain_active = sum(on_domain)
    most_active = max(on_domain, default=0)
    exactness = [
        fuzz.token_sort_ratio(order_key, c.facts.name_key) / 100.0 for c in found.candidates
    ]
    return [
        _features(
            found,
            candidate,
            now,
            domain_active,
            most_active,
            exact,
            exact - max(exactness[:index] + exactness[index + 1 :], default=exact),
        )
        for index, (candidate, exact) in enumerate(zip(found.candidates, exactness, strict=True))
    ]


def _features(
    found: CandidateSet,
    candidate: Candidate,
    now: datetime,
    domain_active: int,
    most_active: int,
    name_exactness: float,
    name_exactness_gap: float,
) -> list[float]:
    """One candidate's row; the order-wide inputs are computed once per order."""
    org = candidate.facts
    order = found.order
    status = candidate.best_domain_status
    on_domain = candidate.members_on_domain
    last = org.last_activity_at
    silent = (now - last).total_seconds() / 86_400 if last else NEVER_ACTIVE_DAYS
    age = max((now - org.created_at).total_seconds() / 86_400, 0.0)
    if order.country and org.country:
        country = 1.0 if order.country == org.country else 0.0
    else:
        country = 0.5
    values = {
        "exact_email": float(Source.EXACT in candidate.sources),
        "domain_claimed": float(status is DomainStatus.CLAIMED),
        "domain_verified": float(status is DomainStatus.VERIFIED),
        "domain_unverified": float(status is DomainStatus.UNVERIFIED),
        "members_only": float(status is None and on_domain is not None),
        "subdomain": float(status is not None and found.host != found.registrable),
        "log_active_members": math.log1p(org.active_members),
        "domain_member_share": (on_domain.members / org.members)
        if on_domain and org.members
        else 0.0,
        "domain_activity_share": (on_domain.active / domain_active)
        if on_domain and domain_active
        else 0.0,
        "most_active_on_domain": float(
            on_domain is not None and most_active > 0 and on_domain.active == most_active
        ),
        "log_days_silent": math.log1p(max(silent, 0.0)),
        "status_active": float(org.status == OrgStatus.ACTIVE),
        "status_trial": float(org.status == OrgStatus.TRIAL),
        "status_expired": float(org.status == OrgStatus.EXPIRED),
        "log_org_age_days": math.log1p(age),
        "name_similarity": candidate.name_similarity,
        "name_exactness": name_exactness,
        "name_exactness_gap": name_exactness_gap,
        "country_match": country,
        "managed_by_partner": float(
            order.partner_id is not None and org.partner_id == order.partner_id
        ),
        "is_ordering_partner": float(
            order.partner_id is not None and org.org_id == order.partner_id
        ),
        "partner_own_address": float(found.partner_own_address),
        "free_mail": float(found.free_mail),
        "found_by_name_only": float(candidate.sources == {Source.NAME}),
        "converts_this_trial": float(order.converts_trial and org.status == OrgStatus.TRIAL),
    }
    return [values[name] for name in FEATURE_NAMES]
