"""Explanations an operator can check: the evidence in words, each feature's pull on the
score, and why the first candidate beat the second.

Evidence is stated from the facts ("domain claimed", "412 active members", "no activity
for 2 years"), not from the model, so it stays true whatever the weights; contributions
come from the model and say how much each piece of evidence moved the score.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from matching.candidates import Candidate, CandidateSet, Source
from matching.familiarity import evidence_pattern
from matching.features import FEATURES
from matching.guard_rails import GUARDED_CONFIDENCE
from matching.scorer import Ranking, ScoredCandidate
from matching.vocabulary import OrgStatus

_DOCS = {f.name: f.doc for f in FEATURES}
_DOMAIN_RELATION = frozenset(
    {"domain_claimed", "domain_verified", "domain_unverified", "members_only", "subdomain"}
)
# Contributions smaller than this (log-odds) are noise to an operator.
_MATERIAL = 0.25
# A doubt costing less than this (probability) is not worth an operator's attention.
_MATERIAL_DOUBT = 0.005


@dataclass(frozen=True, slots=True)
class Fact:
    """One piece of evidence about a candidate, as data. `facts` is the one producer;
    each reader words them: `evidence` in English here (the CLI, the JSON, notebooks),
    the app in the reader's language."""

    kind: str  # one of FACT_KINDS
    value: Any = None
    detail: Any = None


FACT_KINDS = (
    "holds_email",  # value: the e-mail
    "domain",  # value: a domain the org added; detail: its status
    "subdomain",  # value: the e-mail's host; detail: the registrable domain it is under
    "members_on_domain",  # no domain added; value: members on it; detail: the domain
    "active_members",  # value: active members; detail: all members
    "last_activity",  # value: when any member was last active (None: never)
    "status",  # value: active / trial / expired; detail: when the org was created
    "partner",  # value: ordering_partner / managed_by_ordering_partner / other / none
    "name_similarity",  # value: 0..1 (shown from 0.5); detail: the company name typed
    "country",  # value: the org's country; detail: the order's (None: unknown)
)
_NAME_SHOWN = 0.5


def facts(found: CandidateSet, candidate: Candidate, now: datetime) -> list[Fact]:
    """What we know about this org as the customer's: the evidence the seed names."""
    del now  # the facts are dated; how long ago is the reader's to say
    org = candidate.facts
    order = found.order
    said = []
    if Source.EXACT in candidate.sources:
        said.append(Fact("holds_email", found.email))
    for hit in sorted(candidate.domain_hits, key=lambda h: h.domain):
        said.append(Fact("domain", hit.domain, hit.status.value))
    if candidate.domain_hits and found.host != found.registrable:
        said.append(Fact("subdomain", found.host, found.registrable))
    if not candidate.domain_hits and candidate.members_on_domain is not None:
        members = candidate.members_on_domain.members
        said.append(Fact("members_on_domain", members, found.registrable))
    said.append(Fact("active_members", org.active_members, org.members))
    said.append(Fact("last_activity", org.last_activity_at))
    said.append(Fact("status", org.status, org.created_at))
    if order.partner_id and org.org_id == order.partner_id:
        relation = "ordering_partner"
    elif order.partner_id and org.partner_id == order.partner_id:
        relation = "managed_by_ordering_partner"
    else:
        relation = "other" if org.partner_id else "none"
    said.append(Fact("partner", relation, org.partner_id))
    if candidate.name_similarity >= _NAME_SHOWN:
        said.append(Fact("name_similarity", candidate.name_similarity, order.company_name))
    if org.country:
        said.append(Fact("country", org.country, order.country))
    return said


def evidence(found: CandidateSet, candidate: Candidate, now: datetime) -> list[str]:
    """`facts` in the operator's words, in English; the ones that say nothing against
    or for the org (an active status, no partner) are left out."""
    said = (_say(fact, now) for fact in facts(found, candidate, now))
    return [text for text in said if text]


def _say(fact: Fact, now: datetime) -> str | None:
    value, detail = fact.value, fact.detail
    match fact.kind:
        case "holds_email":
            return f"{value} is a member of this org"
        case "domain":
            return f"domain {value} {detail}"
        case "subdomain":
            return f"{value} is a subdomain of {detail}"
        case "members_on_domain":
            return f"no domain added; {_count(value, 'member')} on {detail}"
        case "active_members":
            return _count(value, "active member")
        case "last_activity":
            return _silence(value, now)
        case "status":
            return {OrgStatus.TRIAL: "running trial", OrgStatus.EXPIRED: "expired org"}.get(value)
        case "partner":
            return {
                "managed_by_ordering_partner": "managed by your partner",
                "ordering_partner": "this is the ordering partner's own org",
            }.get(value)
        case "name_similarity":
            return f'name {round(value * 100)}% similar to "{detail}"'
        case "country":
            return f"in {value}, the order is for {detail}" if detail and detail != value else None
    raise ValueError(f"fact: unknown kind {fact.kind!r}")


def doubts(ranking: Ranking) -> list[dict[str, object]]:
    """Why the confidence is below the model's own probability, each with the most it
    allows: disagreement within the ensemble, an unfamiliar pattern (each said when it
    costs at least half a point), and every guard rail met."""
    said: list[dict[str, object]] = []
    material = ranking.model_confidence - _MATERIAL_DOUBT
    if ranking.agreement <= material:
        said.append(
            {
                "kind": "agreement",
                "limit": round(ranking.agreement, 4),
                "reason": "the ensemble disagrees: one of its models gives this answer "
                f"only {ranking.agreement:.1%}",
            }
        )
    if ranking.familiar is not None and ranking.familiarity <= material:
        said.append(
            {
                "kind": "familiarity",
                "limit": round(ranking.familiarity, 4),
                "support": ranking.familiar,
                "reason": "unlike the training data: "
                f"{_count(ranking.familiar, 'order')} had a right answer like this one, "
                f"which allows at most {ranking.familiarity:.1%}",
            }
        )
    for rail in ranking.guard_rails:
        said.append(
            {
                "kind": "guard_rail",
                "rule": rail.rule,
                "limit": GUARDED_CONFIDENCE,
                "reason": rail.reason,
                "org_name": rail.org_name,
            }
        )
    return said


def pattern_of(ranking: Ranking) -> str:
    """The evidence pattern of the ranking's answer (`matching.familiarity`)."""
    best = ranking.recommended
    return evidence_pattern(ranking.found, None if best is None else best.candidate)


def reasons(scored: ScoredCandidate, limit: int = 4) -> list[dict[str, object]]:
    """The features that moved this candidate's score most, strongest first."""
    pulls = sorted(scored.contributions.items(), key=lambda kv: -abs(kv[1]))
    return [
        {
            "feature": name,
            "value": round(scored.features[name], 3),
            "contribution": round(value, 3),
            "meaning": _DOCS[name],
        }
        for name, value in pulls[:limit]
        if abs(value) >= _MATERIAL
    ]


def contrast(ranking: Ranking, now: datetime, limit: int = 3) -> str | None:
    """Why the first candidate beat the second, in the evidence the operator can see."""
    if len(ranking.ranked) < 2:
        return None
    first, second = ranking.ranked[0], ranking.ranked[1]
    gaps = sorted(
        ((name, first.contributions[name] - second.contributions[name]) for name in _DOCS),
        key=lambda kv: -kv[1],
    )
    parts = []
    for name, gap in gaps[:limit]:
        if gap < _MATERIAL:
            break
        winner = _describe(name, first, ranking, now)
        loser = _describe(name, second, ranking, now)
        if winner != loser and f"{winner} vs {loser}" not in parts:
            parts.append(f"{winner} vs {loser}")
    if not parts:
        return f"{first.candidate.facts.name} scores slightly higher on many small signals"
    return f"{first.candidate.facts.name} over {second.candidate.facts.name}: " + "; ".join(parts)


def _describe(feature: str, scored: ScoredCandidate, ranking: Ranking, now: datetime) -> str:
    candidate = scored.candidate
    org = candidate.facts
    found = ranking.found
    if feature == "exact_email":
        return "holds the e-mail" if Source.EXACT in candidate.sources else "does not"
    if feature in _DOMAIN_RELATION:
        status = candidate.best_domain_status
        if status:
            return f"domain {status.value}"
        return "members on the domain only" if candidate.members_on_domain else "no domain"
    if feature in ("log_active_members", "most_active_on_domain", "domain_activity_share"):
        return _count(org.active_members, "active member")
    if feature == "domain_member_share":
        on = candidate.members_on_domain
        return f"{on.members if on else 0} of {org.members} members on {found.registrable}"
    if feature == "log_days_silent":
        return _silence(org.last_activity_at, now)
    if feature.startswith("status_") or feature == "log_org_age_days":
        return f"{org.status}, created {org.created_at:%Y}"
    if feature == "converts_this_trial":
        trial = org.status == OrgStatus.TRIAL
        return "the running trial the order converts" if trial else "not a running trial"
    if feature in ("name_similarity", "name_exactness", "name_exactness_gap"):
        return f"name {round(candidate.name_similarity * 100)}% similar"
    if feature == "country_match":
        return f"in {org.country or 'unknown country'}"
    if feature in ("managed_by_partner", "is_ordering_partner"):
        if org.org_id == found.order.partner_id:
            return "the partner itself"
        managed = found.order.partner_id and org.partner_id == found.order.partner_id
        return "managed by your partner" if managed else "not your partner's"
    return _DOCS[feature]


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _silence(last: datetime | None, now: datetime) -> str:
    if last is None:
        return "never active"
    days = (now - last).days
    if days <= 7:
        return "active this week"
    if days <= 60:
        return f"active {days} days ago"
    if days < 730:
        return f"no activity for {days // 30} months"
    return f"silent since {last:%Y}"
