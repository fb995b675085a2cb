"""Searching every organization: the operator's way out when no candidate is right.

One box takes what a person has at hand — an org id, someone's e-mail, a domain or a
company name — and each kind is answered by an indexed look-up (members by e-mail,
domains by registrable domain, names by their first word), then ranked by name
similarity with rapidfuzz. Nothing scans the org table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rapidfuzz import fuzz
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from matching.errors import InvalidDomain, InvalidEmail
from matching.normalize import (
    email_domain,
    name_key,
    name_token,
    normalize_domain,
    normalize_email,
    registrable_domain,
)
from matching.vocabulary import MemberStatus
from provisioning.access import Actor, Permission, reading
from provisioning.db import Database
from provisioning.models import Member, Org, OrgDomain

_PER_KIND = 200  # candidates read per kind of look-up before ranking


@dataclass(frozen=True, slots=True)
class OrgHit:
    org_id: str
    name: str
    country: str | None
    status: str
    partner_id: str | None
    members: int
    active_members: int
    domains: tuple[str, ...]
    last_activity_at: datetime | None


def search_orgs(
    session: Session, text: str, country: str | None = None, limit: int = 20
) -> list[OrgHit]:
    """Orgs matching `text` (id, e-mail, domain or name), best first; `country` narrows."""
    text = (text or "").strip()
    if not text:
        return []
    ids: dict[str, float] = {}  # org id -> how well it matches (100 = exactly)
    if session.get(Org, text) is not None:
        ids[text] = 100.0
    domain = None
    if "@" in text:
        try:
            address = normalize_email(text)
        except InvalidEmail:
            address = None
        if address:
            owner = session.scalar(select(Member.org_id).where(Member.email == address))
            if owner:
                ids[owner] = 100.0
            domain = email_domain(address)
    elif "." in text and " " not in text:
        try:
            domain = normalize_domain(text)
        except InvalidDomain:
            domain = None
    if domain:
        registrable = registrable_domain(domain)
        for org_id in session.scalars(
            select(OrgDomain.org_id)
            .where(OrgDomain.registrable_domain == registrable)
            .limit(_PER_KIND)
        ):
            ids.setdefault(org_id, 95.0)
        for org_id in session.scalars(
            select(Member.org_id)
            .where(Member.registrable_domain == registrable)
            .group_by(Member.org_id)
            .limit(_PER_KIND)
        ):
            ids.setdefault(org_id, 90.0)
    key = name_key(text)
    if key:
        named = select(Org.org_id, Org.name_key).where(Org.name_token == name_token(key))
        if country:
            named = named.where(Org.country == country.upper())
        for org_id, candidate_key in session.execute(named.limit(_PER_KIND)):
            score = fuzz.WRatio(key, candidate_key)
            if score >= 60:
                ids[org_id] = max(ids.get(org_id, 0.0), float(score))
    return _hits(session, ids, country, limit)


def _hits(session: Session, ids: dict[str, float], country: str | None, limit: int) -> list[OrgHit]:
    if not ids:
        return []
    orgs = {
        org.org_id: org
        for org in session.scalars(select(Org).where(Org.org_id.in_(list(ids))))
        if not country or org.country == country.upper()
    }
    best = sorted(orgs, key=lambda org_id: (-ids[org_id], orgs[org_id].name, org_id))[:limit]
    if not best:
        return []
    activity = {
        org_id: (members, active, last)
        for org_id, members, active, last in session.execute(
            select(
                Member.org_id,
                func.count(),
                func.sum(case((Member.status == MemberStatus.ACTIVE.value, 1), else_=0)),
                func.max(Member.last_activity_at),
            )
            .where(Member.org_id.in_(best))
            .group_by(Member.org_id)
        )
    }
    domains: dict[str, list[str]] = {}
    for org_id, domain, status in session.execute(
        select(OrgDomain.org_id, OrgDomain.domain, OrgDomain.status)
        .where(OrgDomain.org_id.in_(best))
        .order_by(OrgDomain.org_id, OrgDomain.domain)
    ):
        domains.setdefault(org_id, []).append(f"{domain} ({status})")
    return [
        OrgHit(
            org_id=org_id,
            name=orgs[org_id].name,
            country=orgs[org_id].country,
            status=orgs[org_id].status,
            partner_id=orgs[org_id].partner_id,
            members=int(activity.get(org_id, (0, 0, None))[0]),
            active_members=int(activity.get(org_id, (0, 0, None))[1] or 0),
            domains=tuple(domains.get(org_id, ())),
            last_activity_at=activity.get(org_id, (0, 0, None))[2],
        )
        for org_id in best
    ]


def search_for(db: Database, viewer: Actor, text: str, country: str | None = None) -> list[OrgHit]:
    """ "Search all organizations" among those `viewer` may see (READ_ORDERS)."""
    with reading(db, viewer, Permission.READ_ORDERS) as session:
        return search_orgs(session, text, country=country)
