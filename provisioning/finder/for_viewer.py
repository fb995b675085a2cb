"""The finder's answer as a viewer may see it: every org is ranked, but a partner admin
sees only its own customers' orgs among the candidates, and no recommendation (not even
why it came first, nor the org a guard rail names) when the pick is someone else's.

Checked here, in the service layer, so the app, the CLI and the notebooks get the same
answer for the same viewer. Plain frozen dataclasses: the app caches and pickles them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from matching import explain
from matching.explain import Fact
from provisioning.access import Actor, Permission, reading, visible_org_ids
from provisioning.db import Database
from provisioning.errors import NotFound
from provisioning.finder.org_search import search_orgs
from provisioning.finder.running import match_one
from provisioning.models import Order


@dataclass(frozen=True, slots=True)
class Reason:
    feature: str
    value: float
    contribution: float  # log-odds


@dataclass(frozen=True, slots=True)
class CandidateView:
    """One candidate org with the facts an operator checks (workflow.md, step 3)."""

    org_id: str
    name: str
    score: float
    country: str | None
    status: str
    created_at: datetime
    partner_id: str | None
    partner_name: str | None
    members: int
    active_members: int
    last_activity_at: datetime | None
    domains: tuple[tuple[str, str], ...]  # (domain, unverified/verified/claimed)
    members_on_domain: int | None
    holds_email: bool
    managed_by_ordering_partner: bool
    is_ordering_partner: bool
    evidence: tuple[str, ...]  # the finder's own words (English)
    facts: tuple[Fact, ...]  # the same evidence as data, for the reader's language
    reasons: tuple[Reason, ...]
    found_by: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Doubt:
    """Why the confidence is below the model's own probability (`matching.explain.doubts`)."""

    kind: str  # agreement / familiarity / guard_rail
    limit: float  # the most it lets the confidence be
    rule: str | None = None  # a guard rail's key
    support: int | None = None  # familiarity: training orders with such a right answer
    org_name: str | None = None  # a guard rail's org


@dataclass(frozen=True, slots=True)
class MatchView:
    order_id: str
    outcome: str
    recommended_org_id: str | None
    confidence: float
    review: str
    p_new_org: float
    why_first: str | None
    domain: str | None  # the e-mail's registrable domain
    host: str | None  # the e-mail's own domain (a subdomain of `domain`, or the same)
    free_mail: bool  # a consumer mail domain: no evidence of an organization
    partner_own_address: bool  # the ordering partner typed an address of its own
    candidates: tuple[CandidateView, ...]  # best first
    withheld: bool = False  # the finder's pick is an org the viewer may not see
    model_confidence: float | None = None  # the model's own probability, before doubts
    doubts: tuple[Doubt, ...] = ()

    @property
    def recommended(self) -> CandidateView | None:
        return next((c for c in self.candidates if c.org_id == self.recommended_org_id), None)


def answer_for(
    db: Database,
    viewer: Actor,
    order_id: str,
    partner_name: str | None = None,
    now: datetime | None = None,
) -> MatchView:
    """The finder's ranking of one order awaiting its org (Conflict once it is decided).

    The finder ranks every org in the database, not only those the viewer may see: the
    order itself must be visible to the viewer, and a partner admin sees only the
    candidates that are its own customers' orgs — with no recommendation when the
    finder's pick is someone else's (not even why it came first).
    """
    with reading(db, viewer, Permission.READ_ORDERS) as session:
        if session.get(Order, order_id) is None:
            raise NotFound(f"order {order_id!r} does not exist")
    result = match_one(db, order_id, now)
    public = result.to_dict()
    found = result.ranking.found
    partner_id = found.order.partner_id
    ranked = list(zip(result.ranking.ranked, public["candidates"], strict=False))
    with reading(db, viewer, Permission.READ_ORDERS) as session:
        visible = visible_org_ids(session, viewer, {s.candidate.facts.org_id for s, _ in ranked})
        ranked = [(s, shown) for s, shown in ranked if s.candidate.facts.org_id in visible]
        partners = _partner_names(
            session, {s.candidate.facts.partner_id for s, _ in ranked} - {None}
        )
    if partner_id and partner_name:
        partners[partner_id] = partner_name
    withheld = public["recommended_org_id"] not in (None, *visible)
    candidates = []
    for scored, shown in ranked:
        candidate, facts = scored.candidate, scored.candidate.facts
        candidates.append(
            CandidateView(
                org_id=facts.org_id,
                name=facts.name,
                score=shown["score"],
                country=facts.country,
                status=facts.status,
                created_at=facts.created_at,
                partner_id=facts.partner_id,
                partner_name=partners.get(facts.partner_id or ""),
                members=facts.members,
                active_members=facts.active_members,
                last_activity_at=facts.last_activity_at,
                domains=tuple(
                    (hit.domain, hit.status.value)
                    for hit in sorted(candidate.domain_hits, key=lambda h: h.domain)
                ),
                members_on_domain=(
                    candidate.members_on_domain.members if candidate.members_on_domain else None
                ),
                holds_email="exact" in shown["found_by"],
                managed_by_ordering_partner=bool(partner_id) and facts.partner_id == partner_id,
                is_ordering_partner=bool(partner_id) and facts.org_id == partner_id,
                evidence=tuple(shown["evidence"]),
                facts=tuple(explain.facts(found, candidate, result.now)),
                reasons=tuple(
                    Reason(r["feature"], float(r["value"]), float(r["contribution"]))
                    for r in shown["reasons"]
                ),
                found_by=tuple(shown["found_by"]),
            )
        )
    return MatchView(
        order_id=order_id,
        outcome=public["outcome"],
        recommended_org_id=None if withheld else public["recommended_org_id"],
        confidence=public["confidence"],
        review=public["review"],
        p_new_org=public["p_new_org"],
        # The reason names the first two candidates: said only when both may be seen.
        why_first=public["why_first"] if len(candidates) == len(public["candidates"]) else None,
        domain=found.registrable or None,
        host=found.host or None,
        free_mail=found.free_mail,
        partner_own_address=found.partner_own_address,
        candidates=tuple(candidates),
        withheld=withheld,
        # Doubts name orgs (a guard rail's): said only when the recommendation may be.
        model_confidence=None if withheld else public["model_confidence"],
        doubts=()
        if withheld
        else tuple(
            Doubt(
                d["kind"],
                d["limit"],
                d.get("rule"),
                d.get("support"),
                d.get("org_name") if found.exact_org_id in visible else None,
            )
            for d in public["doubts"]
        ),
    )


def _partner_names(session: Session, partner_ids: set[str]) -> dict[str, str]:
    """The names of the partners managing the candidates: an org id alone means nothing
    to an operator. One indexed look-up by id per partner (a handful per order)."""
    names: dict[str, str] = {}
    for partner_id in sorted(partner_ids):
        hit = next(iter(search_orgs(session, partner_id, limit=1)), None)
        if hit is not None and hit.org_id == partner_id:
            names[partner_id] = hit.name
    return names
