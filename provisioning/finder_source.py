"""The organization finder's look-ups, answered from the system of record.

Implements `matching.candidates.CandidateSource`. Each question is one query on an index
made for it (see the indexes of `orgs`, `org_domains`, `members`), capped in size, so
ranking one order never scans the org table however large it is. The statements are
built once, with bound parameters, and run on the session's connection at Core level:
ranking one order is half a dozen of them, so per-statement overhead is the budget.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from matching.candidates import DomainHit, MemberHit, OrgFacts
from matching.vocabulary import DomainStatus, MemberStatus
from provisioning.models import Member, Org, OrgDomain

_ACTIVE = func.sum(case((Member.status == MemberStatus.ACTIVE.value, 1), else_=0))
_LAST = func.max(Member.last_activity_at)

_MEMBER_ORG = select(Member.org_id).where(Member.email == bindparam("email"))
_DOMAIN_ORGS = (
    select(OrgDomain.org_id, OrgDomain.domain, OrgDomain.status)
    .where(OrgDomain.registrable_domain == bindparam("registrable"))
    .limit(bindparam("limit"))
)
_MEMBER_DOMAIN_ORGS = (
    select(Member.org_id, func.count(), _ACTIVE, _LAST)
    .where(Member.registrable_domain == bindparam("registrable"))
    .group_by(Member.org_id)
    .order_by(func.count().desc(), Member.org_id)
    .limit(bindparam("limit"))
)
_ORG_DOMAINS = select(OrgDomain.registrable_domain).where(OrgDomain.org_id == bindparam("org_id"))
_MANAGED = (
    select(Org.org_id, Org.name_key)
    .where(Org.partner_id == bindparam("partner_id"))
    .limit(bindparam("limit"))
)
_NAMED = select(Org.org_id, Org.name_key).where(Org.name_token == bindparam("token"))
_NAMED_IN = _NAMED.where(Org.country == bindparam("country")).limit(bindparam("limit"))
_NAMED_ANY = _NAMED.limit(bindparam("limit"))
_ORGS = select(
    Org.org_id, Org.name, Org.name_key, Org.country, Org.status, Org.created_at, Org.partner_id
).where(Org.org_id.in_(bindparam("ids", expanding=True)))
_TOTALS = (
    select(Member.org_id, func.count(), _ACTIVE, _LAST)
    .where(Member.org_id.in_(bindparam("ids", expanding=True)))
    .group_by(Member.org_id)
)


class SqlCandidateSource:
    """Read-only answers from one open session."""

    def __init__(self, session: Session) -> None:
        self.conn: Connection = session.connection()
        # A partner's domains barely change during one matching run; --all asks often.
        self.registrable_domains_of = lru_cache(maxsize=4_096)(self._registrable_domains_of)

    def org_of_member(self, email: str) -> str | None:
        return self.conn.execute(_MEMBER_ORG, {"email": email}).scalar()

    def orgs_with_domain(self, registrable: str, limit: int) -> Sequence[DomainHit]:
        rows = self.conn.execute(_DOMAIN_ORGS, {"registrable": registrable, "limit": limit})
        return [DomainHit(org_id, domain, DomainStatus(status)) for org_id, domain, status in rows]

    def orgs_with_members_on(self, registrable: str, limit: int) -> Sequence[MemberHit]:
        rows = self.conn.execute(_MEMBER_DOMAIN_ORGS, {"registrable": registrable, "limit": limit})
        return [MemberHit(org_id, n, int(active or 0), last) for org_id, n, active, last in rows]

    def _registrable_domains_of(self, org_id: str) -> set[str]:
        return set(self.conn.execute(_ORG_DOMAINS, {"org_id": org_id}).scalars())

    def managed_orgs(self, partner_id: str, limit: int) -> Sequence[tuple[str, str]]:
        rows = self.conn.execute(_MANAGED, {"partner_id": partner_id, "limit": limit})
        return [(org_id, key) for org_id, key in rows]

    def orgs_named(self, prefix: str, country: str | None, limit: int) -> Sequence[tuple[str, str]]:
        if country:
            params = {"token": prefix, "country": country, "limit": limit}
            rows = self.conn.execute(_NAMED_IN, params)
        else:
            rows = self.conn.execute(_NAMED_ANY, {"token": prefix, "limit": limit})
        return [(org_id, key) for org_id, key in rows]

    def org_facts(self, org_ids: Iterable[str]) -> dict[str, OrgFacts]:
        ids = list(org_ids)
        if not ids:
            return {}
        totals = {
            org_id: (members, int(active or 0), last)
            for org_id, members, active, last in self.conn.execute(_TOTALS, {"ids": ids})
        }
        facts = {}
        for org_id, name, key, country, status, created_at, partner_id in self.conn.execute(
            _ORGS, {"ids": ids}
        ):
            members, active, last = totals.get(org_id, (0, 0, None))
            facts[org_id] = OrgFacts(
                org_id, name, key, country, status, created_at, partner_id, members, active, last
            )
        return facts
