"""The organization finder's look-ups, answered from the system of record.

Implements `matching.candidates.CandidateSource`. Each question is one query on an index
made for it (see the indexes of `orgs`, `org_domains`, `members`), capped in size, so
ranking one order never scans the org table however large it is. The statements are
built once, with bound parameters, and run on the session's connection at Core level:
ranking one order is half a dozen of them, so per-statement overhead is the budget.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from sqlalchemy import ARRAY, Select, any_, bindparam, case, func, select, text, union_all
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

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


class _OneOf(ColumnElement[bool]):
    """`column` is one of the list bound as `name`. On PostgreSQL that is one array
    parameter (`= ANY`): the statement keeps one text, which psycopg prepares once,
    where an IN list renders, sends and plans one placeholder per value (thousands per
    batch, which cost more than running the query). Elsewhere, an expanding IN list."""

    inherit_cache = True
    _traverse_internals: ClassVar = [
        ("column", InternalTraversal.dp_clauseelement),
        ("name", InternalTraversal.dp_string),
    ]

    def __init__(self, column: ColumnElement[Any], name: str) -> None:
        self.column = column
        self.name = name


@compiles(_OneOf)
def _in_list(element: _OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.in_(bindparam(element.name, expanding=True)), **kw)


@compiles(_OneOf, "postgresql")
def _any_of_array(element: _OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    array = bindparam(element.name, type_=ARRAY(element.column.type))
    return compiler.process(element.column == any_(array), **kw)


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
_DOMAINS_KEPT = 4_096  # orgs whose registrable domains a source remembers
_ORG_DOMAINS = select(OrgDomain.registrable_domain).where(OrgDomain.org_id == bindparam("org_id"))
# In name order: the same on every backend and plan, which `_MANAGED_MANY` reproduces.
_MANAGED = (
    select(Org.org_id, Org.name_key)
    .where(Org.partner_id == bindparam("partner_id"))
    .order_by(Org.name_key, Org.org_id)
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
# `_NAMED_IN` for many (token, key, country) at once; WITH ORDINALITY numbers the pairs
# and the nested loop returns each pair's rows as `_NAMED_IN` does (above, then below).
_NAMED_BATCH_POSTGRES = text(
    """
    SELECT w.i, n.org_id, n.name_key
    FROM unnest(CAST(:tokens AS text[]), CAST(:keys AS text[]), CAST(:countries AS text[]))
         WITH ORDINALITY AS w(token, key, country, i)
    CROSS JOIN LATERAL (
        (SELECT o.org_id, o.name_key FROM orgs AS o
         WHERE o.name_token = w.token AND o.country = w.country AND o.name_key >= w.key
         ORDER BY o.name_key, o.org_id LIMIT :half)
        UNION ALL
        (SELECT o.org_id, o.name_key FROM orgs AS o
         WHERE o.name_token = w.token AND o.country = w.country AND o.name_key < w.key
         ORDER BY o.name_key DESC, o.org_id DESC LIMIT :half)
    ) AS n
    """
)
_NAMED_ANY = _nearest_names(bindparam("token"), bindparam("key"), None, bindparam("half"))
_ORGS = select(
    Org.org_id, Org.name, Org.name_key, Org.country, Org.status, Org.created_at, Org.partner_id
).where(_OneOf(Org.org_id, "ids"))
_TOTALS = (
    select(Member.org_id, func.count(), _ACTIVE, _LAST)
    .where(_OneOf(Member.org_id, "ids"))
    .group_by(Member.org_id)
)


class SqlCandidateSource:
    """Read-only answers from one open session. Results are fetched whole (`.all()`):
    iterating a result fetches one row per call, which cost a fifth of `match --all`."""

    def __init__(self, session: Session) -> None:
        self.conn: Connection = session.connection()
        # A partner's domains barely change during one matching run; --all asks often.
        # A plain dict: an lru_cache of a bound method is a reference cycle, which kept
        # each batch's source and all it prefetched alive until a full garbage collection.
        self._domains_of: dict[str, set[str]] = {}

    def org_of_member(self, email: str) -> str | None:
        return self.conn.execute(_MEMBER_ORG, {"email": email}).scalar()

    def orgs_with_domain(self, registrable: str, limit: int) -> Sequence[DomainHit]:
        rows = self.conn.execute(_DOMAIN_ORGS, {"registrable": registrable, "limit": limit})
        return [DomainHit(org_id, domain, DomainStatus(status)) for org_id, domain, status in rows]

    def orgs_with_members_on(self, registrable: str, limit: int) -> Sequence[MemberHit]:
        rows = self.conn.execute(_MEMBER_DOMAIN_ORGS, {"registrable": registrable, "limit": limit})
        return [MemberHit(org_id, n, int(active or 0), last) for org_id, n, active, last in rows]

    def registrable_domains_of(self, org_id: str) -> set[str]:
        if org_id not in self._domains_of:
            if len(self._domains_of) >= _DOMAINS_KEPT:
                self._domains_of.clear()
            rows = self.conn.execute(_ORG_DOMAINS, {"org_id": org_id}).scalars()
            self._domains_of[org_id] = set(rows)
        return self._domains_of[org_id]

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
            for org_id, members, active, last in self.conn.execute(_TOTALS, {"ids": ids}).all()
        }
        facts = {}
        for org_id, name, key, country, status, created_at, partner_id in self.conn.execute(
            _ORGS, {"ids": ids}
        ).all():
            members, active, last = totals.get(org_id, (0, 0, None))
            facts[org_id] = OrgFacts(
                org_id, name, key, country, status, created_at, partner_id, members, active, last
            )
        return facts


_IN_EMAILS = select(Member.email, Member.org_id).where(_OneOf(Member.email, "emails"))


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
        .where(_OneOf(OrgDomain.registrable_domain, "domains"))
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
        .where(_OneOf(Member.registrable_domain, "domains"))
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


def _ranked_managed_orgs() -> Select[tuple[str, str, str]]:
    """The orgs each of many partners manages, in `_MANAGED`'s order, at most `limit`."""
    position = func.row_number().over(
        partition_by=Org.partner_id, order_by=(Org.name_key, Org.org_id)
    )
    ranked = (
        select(Org.partner_id, Org.org_id, Org.name_key, position.label("position"))
        .where(_OneOf(Org.partner_id, "partners"))
        .subquery()
    )
    return (
        select(ranked.c.partner_id, ranked.c.org_id, ranked.c.name_key)
        .where(ranked.c.position <= bindparam("limit"))
        .order_by(ranked.c.partner_id, ranked.c.position)
    )


_DOMAIN_ORGS_MANY = _ranked_domain_orgs()
_MEMBER_ORGS_MANY = _ranked_member_orgs()
_MANAGED_MANY = _ranked_managed_orgs()
_DOMAINS_OF_MANY = select(OrgDomain.org_id, OrgDomain.registrable_domain).where(
    _OneOf(OrgDomain.org_id, "ids")
)


class PrefetchingSource(SqlCandidateSource):
    """Answers the questions of a whole batch of orders with one query per kind of
    question, then serves `find_candidates_of` from memory (which asks for the facts of
    every org it found once per batch): `match --all` pays a handful of round trips per
    batch instead of per order. Answers are identical to the base class (same limits,
    same order); anything not prefetched falls through to it.
    """

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self._members: dict[str, str | None] = {}
        self._domain_hits: dict[str, list[DomainHit]] = {}
        self._member_hits: dict[str, list[MemberHit]] = {}
        self._named: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._managed: dict[str, list[tuple[str, str]]] = {}
        self._managed_limit = 0

    def prefetch(
        self,
        orders: Sequence[OrderQuery],
        limit: int,
        name_limit: int | None = None,
        partner_limit: int | None = None,
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
            for registrable, org_id, domain, status in self.conn.execute(
                _DOMAIN_ORGS_MANY, params
            ).all():
                self._domain_hits[registrable].append(
                    DomainHit(org_id, domain, DomainStatus(status))
                )
            for registrable, org_id, n, active, last in self.conn.execute(
                _MEMBER_ORGS_MANY, params
            ).all():
                self._member_hits[registrable].append(MemberHit(org_id, n, int(active or 0), last))
        for hits in self._member_hits.values():
            hits.sort(key=lambda h: (-h.members, h.org_id))
        self._prefetch_partners(
            sorted({o.partner_id for o in orders if o.partner_id}), partner_limit
        )
        if name_limit is not None:
            self._prefetch_names(orders, name_limit)

    def _prefetch_partners(self, partners: list[str], limit: int | None) -> None:
        """The ordering partners' own domains and, given `limit`, the orgs they manage."""
        if not partners:
            return
        domains: dict[str, set[str]] = {p: set() for p in partners}
        for org_id, registrable in self.conn.execute(_DOMAINS_OF_MANY, {"ids": partners}).all():
            domains[org_id].add(registrable)
        self._domains_of.update(domains)
        if limit is not None:
            self._managed = {p: [] for p in partners}
            self._managed_limit = limit
            params = {"partners": partners, "limit": limit}
            for partner_id, org_id, key in self.conn.execute(_MANAGED_MANY, params).all():
                self._managed[partner_id].append((org_id, key))

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
        pairs = sorted(wanted)
        if self.conn.dialect.name == "postgresql":
            self._named = self._names_at_once(pairs, limit // 2)
            return
        # The look-up `orgs_named` makes, once per distinct (name, country) of the batch.
        # One prepared statement run per pair beats one UNION of them all: that UNION has
        # a new shape every batch, and compiling it cost more than running the pairs.
        self._named = {
            (key, country): [
                (org_id, name)
                for org_id, name in self.conn.execute(
                    _NAMED_IN,
                    {"token": name_token(key), "key": key, "country": country, "half": limit // 2},
                ).all()  # one fetch, not one per row: these are most of the rows read
            ]
            for key, country in pairs
        }

    def _names_at_once(
        self, pairs: list[tuple[str, str]], half: int
    ) -> dict[tuple[str, str], list[tuple[str, str]]]:
        """PostgreSQL: every pair's `_NAMED_IN` in one round trip (a LATERAL join over the
        pairs as arrays, one statement text whatever the batch), rows in the same order."""
        named: dict[tuple[str, str], list[tuple[str, str]]] = {pair: [] for pair in pairs}
        if not pairs:
            return named
        params = {
            "tokens": [name_token(key) for key, _country in pairs],
            "keys": [key for key, _country in pairs],
            "countries": [country for _key, country in pairs],
            "half": half,
        }
        for index, org_id, name in self.conn.execute(_NAMED_BATCH_POSTGRES, params).all():
            named[pairs[index - 1]].append((org_id, name))
        return named

    def orgs_named(self, key: str, country: str | None, limit: int) -> Sequence[tuple[str, str]]:
        if country and (key, country) in self._named:
            return self._named[(key, country)]
        return super().orgs_named(key, country, limit)

    def managed_orgs(self, partner_id: str, limit: int) -> Sequence[tuple[str, str]]:
        if partner_id in self._managed and limit <= self._managed_limit:
            return self._managed[partner_id][:limit]
        return super().managed_orgs(partner_id, limit)

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
