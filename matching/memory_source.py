"""A `CandidateSource` over plain Python data: for notebooks, tests and small what-ifs.

It answers the same questions as the database source with the same semantics
(registrable domains, name tokens, bounded answers), from lists of records.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from matching.candidates import DomainHit, MemberHit, OrgFacts
from matching.normalize import (
    email_domain,
    name_key,
    name_token,
    normalize_email,
    registrable_domain,
)
from matching.vocabulary import DomainStatus, MemberStatus


@dataclass(frozen=True, slots=True)
class OrgRecord:
    org_id: str
    name: str
    created_at: datetime
    status: str = "active"
    country: str | None = None
    partner_id: str | None = None


@dataclass(frozen=True, slots=True)
class MemberRecord:
    org_id: str
    email: str
    status: str = MemberStatus.ACTIVE.value
    last_activity_at: datetime | None = None


class InMemorySource:
    def __init__(
        self,
        orgs: Iterable[OrgRecord],
        domains: Iterable[tuple[str, str, str]] = (),  # (org_id, domain, status)
        members: Iterable[MemberRecord] = (),
    ) -> None:
        self.orgs = {org.org_id: org for org in orgs}
        self.keys = {org_id: name_key(org.name) for org_id, org in self.orgs.items()}
        self.domains: dict[str, list[DomainHit]] = defaultdict(list)
        self.domains_of: dict[str, set[str]] = defaultdict(set)
        for org_id, domain, status in domains:
            registrable = registrable_domain(domain)
            self.domains[registrable].append(DomainHit(org_id, domain, DomainStatus(status)))
            self.domains_of[org_id].add(registrable)
        self.members = [
            MemberRecord(m.org_id, normalize_email(m.email), m.status, m.last_activity_at)
            for m in members
        ]

    def org_of_member(self, email: str) -> str | None:
        return next((m.org_id for m in self.members if m.email == email), None)

    def orgs_with_domain(self, registrable: str, limit: int) -> Sequence[DomainHit]:
        return self.domains.get(registrable, [])[:limit]

    def orgs_with_members_on(self, registrable: str, limit: int) -> Sequence[MemberHit]:
        on_domain = [
            m for m in self.members if registrable_domain(email_domain(m.email)) == registrable
        ]
        hits = [self._summary(org_id, on_domain) for org_id in {m.org_id for m in on_domain}]
        hits.sort(key=lambda h: (-h.members, h.org_id))
        return hits[:limit]

    def registrable_domains_of(self, org_id: str) -> set[str]:
        return set(self.domains_of.get(org_id, set()))

    def managed_orgs(self, partner_id: str, limit: int) -> Sequence[tuple[str, str]]:
        managed = [
            (o.org_id, self.keys[o.org_id])
            for o in self.orgs.values()
            if o.partner_id == partner_id
        ]
        return managed[:limit]

    def orgs_named(self, key: str, country: str | None, limit: int) -> Sequence[tuple[str, str]]:
        token = name_token(key)
        named = sorted(
            (k, org_id)
            for org_id, k in self.keys.items()
            if name_token(k) == token and (not country or self.orgs[org_id].country == country)
        )
        above = [(o, k) for k, o in named if k >= key][: limit // 2]
        below = [(o, k) for k, o in reversed(named) if k < key][: limit // 2]
        return above + below

    def org_facts(self, org_ids: Iterable[str]) -> dict[str, OrgFacts]:
        facts = {}
        for org_id in org_ids:
            org = self.orgs.get(org_id)
            if org is None:
                continue
            totals = self._summary(org_id, self.members)
            facts[org_id] = OrgFacts(
                org_id,
                org.name,
                self.keys[org_id],
                org.country,
                org.status,
                org.created_at,
                org.partner_id,
                totals.members,
                totals.active,
                totals.last_activity_at,
            )
        return facts

    @staticmethod
    def _summary(org_id: str, members: Sequence[MemberRecord]) -> MemberHit:
        mine = [m for m in members if m.org_id == org_id]
        seen = [m.last_activity_at for m in mine if m.last_activity_at]
        active = sum(m.status == MemberStatus.ACTIVE.value for m in mine)
        return MemberHit(org_id, len(mine), active, max(seen) if seen else None)
