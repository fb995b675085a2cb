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
from typing import Any

from sqlalchemy import Select, bindparam, case, func, select, union_all
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from matching.candidates import DomainHit, MemberHit, OrderQuery, OrgFacts, needs_name_search
from matching.normalize import (
    email_domain,
    is_free_mail,
    name_key,
    name_token,
    normalize_email,
    registrable_domain,
)
from matching.vocabulary import DomainStatus, MemberStatus
from provisioning.models import Member, Org, OrgDomain

_ACTIVE = func.sum(case((Member.status == MemberStatus.ACTIVE.value, 1), else_=0))
_LAST = func.max(Member.last_activity_at)

_MEMBER_ORG = select(Member.org_id).where(Member.email == bindparam("email"))
_DOMAIN_ORGS = (
    select(OrgDomain.org_id, OrgDomain.domain, OrgDomain.status)
    .where(OrgDomain.registrable_domain == bindparam("registrable"))
    .order_by(OrgDomain.org_id, OrgDomain.domain)
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


def _nearest_names(
    token: object, key: object, country: object | None, half: object
) -> Select[tuple[str, str]]:
    """The `half` names at or after `key` and the `half` before it, among orgs whose name
    starts with `token`: two bounded ranges of the covering index (name_token, country,
    name_key, org_id), so a first word shared by thousands of orgs costs the same."""
    same = [Org.name_token == token] + ([Org.country == country] if country is not None else [])
    above = (
        select(Org.org_id, Org.name_key)
        .where(*same, Org.name_key >= key)
        .order_by(Org.name_key, Org.org_id)
        .limit(half)
    )
    below = (
        select(Org.org_id, Org.name_key)
        .where(*same, Org.name_key < key)
        .order_by(Org.name_key.desc(), Org.org_id.desc())
        .limit(half)
    )
    return union_all(above.subquery().select(), below.subquery().select())


_NAMED_IN = _nearest_names(
    bindparam("token"), bindparam("key"), bindparam("country"), bindparam("half")
)
_NAMED_ANY = _nearest_names(bindparam("token"), bindparam("key"), None, bindparam("half"))
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

    def orgs_named(self, key: str, country: str | None, limit: int) -> Sequence[tuple[str, str]]:
        params = {"token": name_token(key), "key": key, "half": limit // 2}
        if country:
            rows = self.conn.execute(_NAMED_IN, {**params, "country": country})
        else:
            rows = self.conn.execute(_NAMED_ANY, params)
        return [(org_id, name) for org_id, name in rows]

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


_IN_EMAILS = select(Member.email, Member.org_id).where(
    Member.email.in_(bindparam("emails", expanding=True))
)


def _ranked_domain_orgs() -> Select[tuple[str, str, str, str]]:
    """Org domains of many registrable domains, at most `limit` orgs per domain."""
    position = (
        func.row_number()
        .over(
            partition_by=OrgDomain.registrable_domain, order_by=(OrgDomain.org_id, OrgDomain.domain)
        )
        .label("position")
    )
    ranked = (
        select(
            OrgDomain.registrable_domain,
            OrgDomain.org_id,
            OrgDomain.domain,
            OrgDomain.status,
            position,
        )
        .where(OrgDomain.registrable_domain.in_(bindparam("domains", expanding=True)))
        .subquery()
    )
    return select(
        ranked.c.registrable_domain, ranked.c.org_id, ranked.c.domain, ranked.c.status
    ).where(ranked.c.position <= bindparam("limit"))


def _ranked_member_orgs() -> Select[tuple[Any, ...]]:
    """Per registrable domain, its orgs by members on it (most first), at most `limit`."""
    counted = (
        select(
            Member.registrable_domain,
            Member.org_id,
            func.count().label("members"),
            _ACTIVE.label("active"),
            _LAST.label("last"),
        )
        .where(Member.registrable_domain.in_(bindparam("domains", expanding=True)))
        .group_by(Member.registrable_domain, Member.org_id)
        .subquery()
    )
    position = func.row_number().over(
        partition_by=counted.c.registrable_domain,
        order_by=(counted.c.members.desc(), counted.c.org_id),
    )
    ranked = select(counted, position.label("position")).subquery()
    return select(
        ranked.c.registrable_domain,
        ranked.c.org_id,
        ranked.c.members,
        ranked.c.active,
        ranked.c.last,
    ).where(ranked.c.position <= bindparam("limit"))


_DOMAIN_ORGS_MANY = _ranked_domain_orgs()
_MEMBER_ORGS_MANY = _ranked_member_orgs()


class PrefetchingSource(SqlCandidateSource):
    """Answers the questions of a whole batch of orders with one query per kind of
    question, then serves `find_candidates` from memory: `match --all` pays a handful of
    round trips per batch instead of per order. Answers are identical to the base class
    (same limits, same order); anything not prefetched falls through to it.
    """

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self._members: dict[str, str | None] = {}
        self._domain_hits: dict[str, list[DomainHit]] = {}
        self._member_hits: dict[str, list[MemberHit]] = {}
        self._facts: dict[str, OrgFacts] = {}
        self._named: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self.managed_orgs = lru_cache(maxsize=1_024)(super().managed_orgs)  # type: ignore[method-assign]

    def prefetch(
        self, orders: Sequence[OrderQuery], limit: int, name_limit: int | None = None
    ) -> None:
        emails = {normalize_email(o.provisioning_email) for o in orders}
        hosts = {email_domain(e) for e in emails}
        domains = sorted({registrable_domain(h) for h in hosts if not is_free_mail(h)})
        self._members = dict.fromkeys(emails)
        self._members.update(self.conn.execute(_IN_EMAILS, {"emails": sorted(emails)}).all())
        self._domain_hits = {d: [] for d in domains}
        self._member_hits = {d: [] for d in domains}
        if domains:
            params = {"domains": domains, "limit": limit}
            for registrable, org_id, domain, status in self.conn.execute(_DOMAIN_ORGS_MANY, params):
                self._domain_hits[registrable].append(
                    DomainHit(org_id, domain, DomainStatus(status))
                )
            for registrable, org_id, n, active, last in self.conn.execute(
                _MEMBER_ORGS_MANY, params
            ):
                self._member_hits[registrable].append(MemberHit(org_id, n, int(active or 0), last))
        for hits in self._member_hits.values():
            hits.sort(key=lambda h: (-h.members, h.org_id))
        if name_limit is not None:
            self._prefetch_names(orders, name_limit)
        known = {org for org in self._members.values() if org}
        known |= {h.org_id for hits in self._domain_hits.values() for h in hits}
        known |= {h.org_id for hits in self._member_hits.values() for h in hits}
        self._facts = super().org_facts(known)

    def _prefetch_names(self, orders: Sequence[OrderQuery], limit: int) -> None:
        """Only for the orders whose e-mail gave no evidence (see `needs_name_search`)."""
        wanted = set()
        for order in orders:
            email = normalize_email(order.provisioning_email)
            registrable = registrable_domain(email_domain(email))
            exact = self.org_of_member(email)
            partner_own = order.partner_id is not None and (
                exact == order.partner_id
                or registrable in self.registrable_domains_of(order.partner_id)
            )
            on_domain = not partner_own and bool(
                self._domain_hits.get(registrable) or self._member_hits.get(registrable)
            )
            key = name_key(order.company_name)
            if (
                order.country
                and len(name_token(key)) >= 2
                and needs_name_search(exact, partner_own, on_domain)
            ):
                wanted.add((key, order.country))
        # The look-up `orgs_named` makes, once per distinct (name, country) of the batch.
        # One prepared statement run per pair beats one UNION of them all: that UNION has
        # a new shape every batch, and compiling it cost more than running the pairs.
        self._named = {
            (key, country): [
                (org_id, name)
                for org_id, name in self.conn.execute(
                    _NAMED_IN,
                    {"token": name_token(key), "key": key, "country": country, "half": limit // 2},
                )
            ]
            for key, country in sorted(wanted)
        }

    def orgs_named(self, key: str, country: str | None, limit: int) -> Sequence[tuple[str, str]]:
        if country and (key, country) in self._named:
            return self._named[(key, country)]
        return super().orgs_named(key, country, limit)

    def org_of_member(self, email: str) -> str | None:
        if email in self._members:
            return self._members[email]
        return super().org_of_member(email)

    def orgs_with_domain(self, registrable: str, limit: int) -> Sequence[DomainHit]:
        if registrable in self._domain_hits:
            return self._domain_hits[registrable][:limit]
        return super().orgs_with_domain(registrable, limit)

    def orgs_with_members_on(self, registrable: str, limit: int) -> Sequence[MemberHit]:
        if registrable in self._member_hits:
            return self._member_hits[registrable][:limit]
        return super().orgs_with_members_on(registrable, limit)

    def org_facts(self, org_ids: Iterable[str]) -> dict[str, OrgFacts]:
        ids = list(org_ids)
        facts = {i: self._facts[i] for i in ids if i in self._facts}
        missing = [i for i in ids if i not in self._facts]
        if missing:
            facts.update(super().org_facts(missing))
        return facts
