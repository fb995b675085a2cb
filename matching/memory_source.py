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
    """Indexed like the database (by e-mail, registrable domain, org and name token), so
    that a notebook or a benchmark can rank a generated world of tens of thousands of orgs
    in seconds."""

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
        self._by_email: dict[str, str] = {}
        self._by_org: dict[str, list[MemberRecord]] = defaultdict(list)
        self._on_domain: dict[str, list[MemberRecord]] = defaultdict(list)
        for member in self.members:
            self._by_email.setdefault(member.email, member.org_id)
            self._by_org[member.org_id].append(member)
            self._on_domain[registrable_domain(email_domain(member.email))].append(member)
        self._managed: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self._named: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for org_id, org in self.orgs.items():
            if org.partner_id is not None:
                self._managed[org.partner_id].append((org_id, self.keys[org_id]))
            self._named[name_token(self.keys[org_id])].append((self.keys[org_id], org_id))
        for named in self._named.values():
            named.sort()

    def org_of_member(self, email: str) -> str | None:
        return self._by_email.get(email)

    def orgs_with_domain(self, registrable: str, limit: int) -> Sequence[DomainHit]:
        return self.domains.get(registrable, [])[:limit]

    def orgs_with_members_on(self, registrable: str, limit: int) -> Sequence[MemberHit]:
        on_domain = self._on_domain.get(registrable, [])
        by_org: dict[str, list[MemberRecord]] = defaultdict(list)
        for member in on_domain:
            by_org[member.org_id].append(member)
        hits = [self._summary(org_id, mine) for org_id, mine in by_org.items()]
        hits.sort(key=lambda h: (-h.members, h.org_id))
        return hits[:limit]

    def registrable_domains_of(self, org_id: str) -> set[str]:
        return set(self.domains_of.get(org_id, set()))

    def managed_orgs(self, partner_id: str, limit: int) -> Sequence[tuple[str, str]]:
        return self._managed.get(partner_id, [])[:limit]

    def orgs_named(self, key: str, country: str | None, limit: int) -> Sequence[tuple[str, str]]:
        named = [
            (k, org_id)
            for k, org_id in self._named.get(name_token(key), [])
            if not country or self.orgs[org_id].country == country
        ]
        above = [(o, k) for k, o in named if k >= key][: limit // 2]
        below = [(o, k) for k, o in reversed(named) if k < key][: limit // 2]
        return above + below

    def org_facts(self, org_ids: Iterable[str]) -> dict[str, OrgFacts]:
        facts = {}
        for org_id in org_ids:
            org = self.orgs.get(org_id)
            if org is None:
                continue
            totals = self._summary(org_id, self._by_org.get(org_id, []))
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
    def _summary(org_id: str, mine: Sequence[MemberRecord]) -> MemberHit:
        """An org's totals over `mine`, its members (all of them, or those on a domain)."""
        seen = [m.last_activity_at for m in mine if m.last_activity_at]
        active = sum(m.status == MemberStatus.ACTIVE.value for m in mine)
        return MemberHit(org_id, len(mine), active, max(seen) if seen else None)
