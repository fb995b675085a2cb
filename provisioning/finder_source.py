"""The organization finder's look-ups, answered from the system of record.

Implements `matching.candidates.CandidateSource`. Each question is one query on an index
made for it (see the indexes of `orgs`, `org_domains`, `members`), capped in size, so
ranking one order never scans the org table however large it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from matching.candidates import DomainHit, MemberHit, OrgFacts
from matching.vocabulary import DomainStatus, MemberStatus
from provisioning.models import Member, Org, OrgDomain

_ACTIVE = func.sum(case((Member.status == MemberStatus.ACTIVE.value, 1), else_=0))


class SqlCandidateSource:
    """Read-only answers from one open session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def org_of_member(self, email: str) -> str | None:
        return self.session.scalar(select(Member.org_id).where(Member.email == email))

    def orgs_with_domain(self, registrable: str, limit: int) -> Sequence[DomainHit]:
        rows = self.session.execute(
            select(OrgDomain.org_id, OrgDomain.domain, OrgDomain.status)
            .where(OrgDomain.registrable_domain == registrable)
            .limit(limit)
        )
        return [DomainHit(org_id, domain, DomainStatus(status)) for org_id, domain, status in rows]

    def orgs_with_members_on(self, registrable: str, limit: int) -> Sequence[MemberHit]:
        rows = self.session.execute(
            select(Member.org_id, func.count(), _ACTIVE, func.max(Member.last_activity_at))
            .where(Member.registrable_domain == registrable)
            .group_by(Member.org_id)
            .order_by(func.count().desc(), Member.org_id)
            .limit(limit)
        )
        return [
            MemberHit(org_id, members, int(active or 0), last)
            for org_id, members, active, last in rows
        ]

    def registrable_domains_of(self, org_id: str) -> set[str]:
        return set(
            self.session.scalars(
                select(OrgDomain.registrable_domain).where(OrgDomain.org_id == org_id)
            )
        )

    def managed_orgs(self, partner_id: str, limit: int) -> Sequence[tuple[str, str]]:
        rows = self.session.execute(
            select(Org.org_id, Org.name_key).where(Org.partner_id == partner_id).limit(limit)
        )
        return [(org_id, key) for org_id, key in rows]

    def orgs_named(self, prefix: str, country: str | None, limit: int) -> Sequence[tuple[str, str]]:
        query = select(Org.org_id, Org.name_key).where(Org.name_token == prefix)
        if country:
            query = query.where(Org.country == country)
        return [(org_id, key) for org_id, key in self.session.execute(query.limit(limit))]

    def org_facts(self, org_ids: Iterable[str]) -> dict[str, OrgFacts]:
        ids = list(org_ids)
        if not ids:
            return {}
        totals = {
            org_id: (members, int(active or 0), last)
            for org_id, members, active, last in self.session.execute(
                select(Member.org_id, func.count(), _ACTIVE, func.max(Member.last_activity_at))
                .where(Member.org_id.in_(ids))
                .group_by(Member.org_id)
            )
        }
        facts = {}
        for org in self.session.scalars(select(Org).where(Org.org_id.in_(ids))):
            members, active, last = totals.get(org.org_id, (0, 0, None))
            facts[org.org_id] = OrgFacts(
                org_id=org.org_id,
                name=org.name,
                name_key=org.name_key,
                country=org.country,
                status=org.status,
                created_at=org.created_at,
                partner_id=org.partner_id,
                members=members,
                active_members=active,
                last_activity_at=last,
            )
        return facts
