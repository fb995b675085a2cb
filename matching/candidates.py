"""Candidate generation: which orgs could an order be for, and what we know about each.

Pure code. The data comes through `CandidateSource`, a narrow interface of bounded
look-ups that the system of record answers with index look-ups (see
`provisioning.finder.source`); tests answer it from memory. Candidates come from the
seed's four places: the org holding the provisioning e-mail, orgs on the e-mail's
registrable domain (as a domain they added or their members' domain), orgs managed by
the ordering partner with a similar name, and a fuzzy name + country search.

A free-mail domain, and the ordering partner's own domain, are no evidence that an org
is the customer's: no domain look-up is made for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from rapidfuzz import fuzz, process

from matching.normalize import (
    email_domain,
    is_free_mail,
    name_key,
    name_token,
    normalize_email,
    registrable_domain,
)
from matching.vocabulary import DomainStatus

DOMAIN_LIMIT = 50  # orgs per domain look-up (a huge shared domain is capped, best first)
PARTNER_LIMIT = 5_000  # orgs a partner manages, compared by name
NAME_LIMIT = 80  # orgs per name look-up: the nearest names on either side of the order's
NAME_KEEP = 5  # name-search candidates kept
PARTNER_NAME_MIN = 60.0  # rapidfuzz token_set_ratio
GLOBAL_NAME_MIN = 80.0


class Source(StrEnum):
    """How a candidate was found (an org can be found several ways)."""

    EXACT = "exact"
    DOMAIN = "domain"  # holds the registrable domain as a domain it added
    MEMBERS = "members"  # has members on the registrable domain
    PARTNER = "partner"  # managed by the ordering partner, name resembles
    NAME = "name"  # global fuzzy name (+ country) search


@dataclass(frozen=True, slots=True)
class OrderQuery:
    """What the finder knows about an order."""

    order_id: str
    provisioning_email: str
    company_name: str
    country: str | None = None
    partner_id: str | None = None
    converts_trial: bool = False  # a line of the order converts a running trial


@dataclass(frozen=True, slots=True)
class DomainHit:
    org_id: str
    domain: str
    status: DomainStatus


@dataclass(frozen=True, slots=True)
class MemberHit:
    """An org's members on one registrable domain."""

    org_id: str
    members: int
    active: int
    last_activity_at: datetime | None


@dataclass(frozen=True, slots=True)
class OrgFacts:
    """An org as the scorer sees it: its row and its members' totals."""

    org_id: str
    name: str
    name_key: str
    country: str | None
    status: str
    created_at: datetime
    partner_id: str | None
    members: int
    active_members: int
    last_activity_at: datetime | None


class CandidateSource(Protocol):
    """The finder's questions. Every answer is bounded; none scans all orgs."""

    def org_of_member(self, email: str) -> str | None: ...

    def orgs_with_domain(self, registrable: str, limit: int) -> Sequence[DomainHit]: ...

    def orgs_with_members_on(self, registrable: str, limit: int) -> Sequence[MemberHit]: ...

    def registrable_domains_of(self, org_id: str) -> set[str]: ...

    def managed_orgs(self, partner_id: str, limit: int) -> Sequence[tuple[str, str]]: ...

    def orgs_named(self, key: str, country: str | None, limit: int) -> Sequence[tuple[str, str]]:
        """Orgs whose name starts with `key`'s first word (in `country`, if given): the
        `limit` nearest to `key` in name order, half above it and half below."""
        ...

    def org_facts(self, org_ids: Iterable[str]) -> dict[str, OrgFacts]: ...


@dataclass
class Candidate:
    """One org the order could be for, with every piece of evidence found for it."""

    facts: OrgFacts
    sources: set[Source] = field(default_factory=set)
    domain_hits: list[DomainHit] = field(default_factory=list)
    members_on_domain: MemberHit | None = None
    name_similarity: float = 0.0  # 0..1

    @property
    def org_id(self) -> str:
        return self.facts.org_id

    @property
    def best_domain_status(self) -> DomainStatus | None:
        if not self.domain_hits:
            return None  # most candidates; features and explanations ask several times
        ranked = (DomainStatus.CLAIMED, DomainStatus.VERIFIED, DomainStatus.UNVERIFIED)
        statuses = {hit.status for hit in self.domain_hits}
        return next((s for s in ranked if s in statuses), None)


@dataclass
class CandidateSet:
    """The order as parsed, and every candidate found (unordered)."""

    order: OrderQuery
    email: str
    host: str
    registrable: str
    free_mail: bool
    partner_own_address: bool  # the partner typed an address of its own
    exact_org_id: str | None
    candidates: list[Candidate]


def needs_name_search(exact_org_id: str | None, partner_own: bool, on_domain: bool) -> bool:
    """The global name search is the seed's fallback: it runs when the e-mail itself gave
    no evidence (no exact match other than the partner's own, no org on its domain). On
    a million orgs a common first word matches hundreds; when the e-mail already points
    somewhere, those look-alikes only add noise and cost."""
    return not on_domain and (exact_org_id is None or partner_own)


def find_candidates(order: OrderQuery, source: CandidateSource) -> CandidateSet:
    return find_candidates_of([order], source)[0]


def find_candidates_of(orders: Sequence[OrderQuery], source: CandidateSource) -> list[CandidateSet]:
    """`find_candidates` for a batch of orders, in the same order: the look-ups run per
    order, then one `org_facts` question reads every org found for the whole batch (per
    order, that single read was a quarter of `match --all`)."""
    leads = [_leads(order, source) for order in orders]
    facts = source.org_facts(sorted({org_id for lead in leads for org_id in lead.sources}))
    return [lead.candidate_set(facts) for lead in leads]


@dataclass
class _Leads:
    """What the look-ups found for one order: which orgs, and how, before their facts."""

    found: CandidateSet  # no candidates yet
    key: str
    sources: dict[str, set[Source]]
    hits: dict[str, list[DomainHit]]
    members: dict[str, MemberHit]
    similarity: dict[str, float]

    def candidate_set(self, facts: dict[str, OrgFacts]) -> CandidateSet:
        self.found.candidates = [
            Candidate(
                facts=facts[org_id],
                sources=how,
                domain_hits=self.hits.get(org_id, []),
                members_on_domain=self.members.get(org_id),
                name_similarity=self.similarity.get(
                    org_id, _similarity(self.key, facts[org_id].name_key)
                ),
            )
            for org_id, how in self.sources.items()
            if org_id in facts  # else deleted between look-ups
        ]
        return self.found


def _leads(order: OrderQuery, source: CandidateSource) -> _Leads:
    email = normalize_email(order.provisioning_email)
    host = email_domain(email)
    registrable = registrable_domain(host)
    free_mail = is_free_mail(host)
    hits: dict[str, list[DomainHit]] = {}
    members: dict[str, MemberHit] = {}
    sources: dict[str, set[Source]] = {}

    def note(org_id: str, how: Source) -> None:
        sources.setdefault(org_id, set()).add(how)

    exact = source.org_of_member(email)
    if exact is not None:
        note(exact, Source.EXACT)
    partner_domains = source.registrable_domains_of(order.partner_id) if order.partner_id else set()
    partner_own = order.partner_id is not None and (
        exact == order.partner_id or registrable in partner_domains
    )
    if not free_mail and not partner_own:
        for hit in source.orgs_with_domain(registrable, DOMAIN_LIMIT):
            hits.setdefault(hit.org_id, []).append(hit)
            note(hit.org_id, Source.DOMAIN)
        for member_hit in source.orgs_with_members_on(registrable, DOMAIN_LIMIT):
            members[member_hit.org_id] = member_hit
            note(member_hit.org_id, Source.MEMBERS)

    key = name_key(order.company_name)
    similarity: dict[str, float] = {}
    if order.partner_id and key:
        managed = source.managed_orgs(order.partner_id, PARTNER_LIMIT)
        for org_id, score in _similar(key, managed, PARTNER_NAME_MIN):
            similarity[org_id] = score
            note(org_id, Source.PARTNER)
    prefix = name_token(key)
    if len(prefix) >= 2 and needs_name_search(exact, partner_own, bool(hits or members)):
        named = source.orgs_named(key, order.country, NAME_LIMIT)
        for org_id, score in _similar(key, named, GLOBAL_NAME_MIN):
            similarity.setdefault(org_id, score)
            note(org_id, Source.NAME)

    found = CandidateSet(
        order=order,
        email=email,
        host=host,
        registrable=registrable,
        free_mail=free_mail,
        partner_own_address=partner_own,
        exact_org_id=exact,
        candidates=[],
    )
    return _Leads(found, key, sources, hits, members, similarity)


def _similarity(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    return fuzz.token_set_ratio(a, b) / 100.0


def _similar(key: str, named: Sequence[tuple[str, str]], minimum: float) -> list[tuple[str, float]]:
    """The best few (org_id, similarity 0..1) among `(org_id, name_key)` pairs."""
    if not named:
        return []
    ids = [org_id for org_id, _ in named]
    keys = [k for _, k in named]
    best = process.extract(
        key, keys, scorer=fuzz.token_set_ratio, limit=NAME_KEEP, score_cutoff=minimum
    )
    return [(ids[index], score / 100.0) for _, score, index in best]
