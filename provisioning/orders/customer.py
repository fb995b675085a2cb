"""What a person acting through an order link may read: the customer-safe read models.

The contact, the delegate and the approving org administrator see their one order, the
organizations the finder offers them and the approval request, as plain dataclasses made
only of what the seed shows a buyer: organization names, countries, domains with their
status, counts of users and dates. Never another organization's people (no member's
e-mail or name), never the model's internals (no scores, features or reasons), never
another partner's data: a candidate is offered only on e-mail or domain evidence, or
because the ordering partner itself manages it.

Every function takes the link `Actor` and reads through its scoped session, so it sees its
one order and nothing that hangs off another.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from matching.candidates import Source
from provisioning import finder
from provisioning.access import Actor, Permission, authorize, reading
from provisioning.db import Database
from provisioning.errors import Forbidden, NotFound
from provisioning.models import Order, OrderService, Org, OrgApproval
from provisioning.models.base import utcnow
from provisioning.orders.read import load_summary
from provisioning.orders.summary import LicenceLine, OrderSummary, ServiceSummary
from provisioning.states import ApprovalStatus, Intent, LinkRole, OrderState, ServiceState

# The evidence a customer may be shown a candidate on (workflow.md step 3): their own
# address, the e-mail's domain, users on that domain; or the ordering partner manages it.
_ON_EVIDENCE = frozenset({Source.EXACT, Source.DOMAIN, Source.MEMBERS})


class Step:
    """Where the link reopens, derived from the order's state and its services."""

    INTENT = "intent"
    WAITING_FOR_DELEGATE = "waiting_for_delegate"
    ORGANIZATION = "organization"
    WAITING_FOR_APPROVAL = "waiting_for_approval"
    SERVICES = "services"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class OrgChoice:
    """One organization the finder offers, with the evidence the seed names."""

    org_id: str
    name: str
    country: str | None
    domains: tuple[tuple[str, str], ...]  # (domain, unverified/verified/claimed)
    users: int
    active_users: int
    users_on_domain: int | None  # users with an address on the e-mail's domain
    last_activity: date | None
    holds_your_address: bool  # the provisioning e-mail is one of its users
    managed_by_your_partner: bool


@dataclass(frozen=True, slots=True)
class FinderView:
    outcome: str  # exact / domain / none (matching.vocabulary.Outcome)
    domain: str | None  # the e-mail's registrable domain, unless a free mail service
    choices: tuple[OrgChoice, ...]  # best first


@dataclass(frozen=True, slots=True)
class CustomerOrder:
    """The order as its contact or delegate sees it."""

    order_id: str
    company_name: str
    country: str | None
    state: str
    intent: str | None
    partner_id: str | None
    partner_name: str | None
    provisioning_email: str
    delegate_email: str | None
    org_name: str | None
    org_country: str | None
    new_org: bool
    partner_role: str | None
    customer_admin_email: str | None
    lines: tuple[LicenceLine, ...]
    services: tuple[ServiceSummary, ...]
    asked_org_name: str | None  # the org whose administrator was asked, while waiting
    step: str
    drafts: dict[str, dict[str, Any]]  # service -> its half-filled setup form, if saved

    def draft(self, service: str) -> dict[str, Any]:
        return dict(self.drafts.get(service) or {})


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """What an org administrator is asked to approve."""

    order_id: str
    company_name: str
    country: str | None
    partner_name: str | None
    requested_by: str
    requested_at: datetime
    org_name: str
    status: str  # pending / approved / declined
    lines: tuple[LicenceLine, ...]

    @property
    def pending(self) -> bool:
        return self.status == ApprovalStatus.PENDING


def order_view(db: Database, actor: Actor, now: datetime | None = None) -> CustomerOrder:
    """The link's order, for its contact or delegate."""
    order_id = _order_of(actor, LinkRole.CONTACT, LinkRole.DELEGATE)
    with reading(db, actor, Permission.READ_ORDERS) as session:
        summary = load_summary(session, order_id, now)
        asked = None
        if summary.state == OrderState.AWAITING_APPROVAL and summary.org_id:
            asked = session.scalar(select(Org.name).where(Org.org_id == summary.org_id))
        drafts = {
            service: dict(draft)
            for service, draft in session.execute(
                select(OrderService.service, OrderService.draft).where(
                    OrderService.order_id == order_id
                )
            )
            if draft
        }
    return CustomerOrder(
        order_id=summary.order_id,
        company_name=summary.company_name,
        country=summary.country,
        state=summary.state,
        intent=summary.intent,
        partner_id=summary.partner_id,
        partner_name=summary.partner_name,
        provisioning_email=summary.provisioning_email,
        delegate_email=summary.delegate_email,
        org_name=summary.org_name,
        org_country=summary.org_country,
        new_org=summary.new_org,
        partner_role=summary.partner_role,
        customer_admin_email=summary.customer_admin_email,
        lines=tuple(summary.lines),
        services=tuple(summary.services),
        asked_org_name=asked,
        step=step_of(summary, actor),
        drafts=drafts,
    )


def step_of(summary: OrderSummary, actor: Actor) -> str:
    """The first thing the order still needs from the person holding the link."""
    state = OrderState(summary.state)
    if state is OrderState.AWAITING_INTENT:
        return Step.INTENT
    if state is OrderState.DELEGATED:
        # The delegate states who the order is for; the contact has handed it on.
        mine = actor.role is LinkRole.DELEGATE and actor.email == summary.delegate_email
        return Step.INTENT if mine else Step.WAITING_FOR_DELEGATE
    if state is OrderState.AWAITING_ORG:
        return Step.ORGANIZATION
    if state is OrderState.AWAITING_APPROVAL:
        return Step.WAITING_FOR_APPROVAL
    if state is OrderState.ORG_MAPPED and any(
        s.state != ServiceState.PROVISIONED for s in summary.services
    ):
        return Step.SERVICES
    return Step.DONE


def finder_view(db: Database, actor: Actor, now: datetime | None = None) -> FinderView:
    """The finder's outcome and the organizations a customer may choose from.

    The finder ranks every organization; what reaches the customer is filtered here: only
    candidates found on e-mail or domain evidence or managed by the ordering partner
    (never name look-alikes from the global search), never the ordering partner's own
    organization when the order is for its customer, and only names, domains, counts
    and dates of each.
    """
    order_id = _order_of(actor, LinkRole.CONTACT, LinkRole.DELEGATE)
    with reading(db, actor, Permission.READ_ORDERS) as session:
        order = session.get(Order, order_id)
        if order is None:
            raise NotFound(f"order {order_id!r} does not exist")
        intent = order.intent
    result = finder.match_one(db, order_id, now or utcnow())
    found = result.ranking.found
    partner_id = found.order.partner_id
    choices = []
    for scored in result.ranking.ranked:
        candidate, facts = scored.candidate, scored.candidate.facts
        managed = bool(partner_id) and facts.partner_id == partner_id
        by_partner = Source.PARTNER in candidate.sources and managed
        if not candidate.sources & _ON_EVIDENCE and not by_partner:
            continue  # a name look-alike, or managed by some other partner: not shown
        if partner_id and facts.org_id == partner_id and intent == Intent.CUSTOMER:
            continue  # the partner's own organization is never its customer's
        choices.append(
            OrgChoice(
                org_id=facts.org_id,
                name=facts.name,
                country=facts.country,
                domains=tuple(
                    (hit.domain, hit.status.value)
                    for hit in sorted(candidate.domain_hits, key=lambda h: h.domain)
                ),
                users=facts.members,
                active_users=facts.active_members,
                users_on_domain=(
                    candidate.members_on_domain.members if candidate.members_on_domain else None
                ),
                last_activity=facts.last_activity_at.date() if facts.last_activity_at else None,
                holds_your_address=Source.EXACT in candidate.sources
                and not found.partner_own_address,
                managed_by_your_partner=managed,
            )
        )
    domain = None if found.free_mail else (found.registrable or None)
    return FinderView(result.outcome.value, domain, tuple(choices))


def approval_request(db: Database, actor: Actor) -> ApprovalRequest:
    """The one approval request an approver's link was sent for."""
    order_id = _order_of(actor, LinkRole.APPROVER)
    with reading(db, actor, Permission.READ_ORDERS) as session:
        approval = session.get(OrgApproval, actor.approval_id)
        order = session.get(Order, order_id)
        if approval is None or order is None or approval.order_id != order_id:
            raise NotFound(f"order {order_id!r} has no such approval request")
        names = dict(
            session.execute(
                select(Org.org_id, Org.name).where(
                    Org.org_id.in_([o for o in (approval.org_id, order.partner_id) if o])
                )
            ).all()
        )
        summary = load_summary(session, order_id)
        return ApprovalRequest(
            order_id=order_id,
            company_name=order.company_name,
            country=order.country,
            partner_name=names.get(order.partner_id or ""),
            requested_by=approval.requested_by,
            requested_at=approval.requested_at,
            org_name=names.get(approval.org_id, approval.org_id),
            status=approval.status,
            lines=tuple(summary.lines),
        )


def summary_for(db: Database, actor: Actor, now: datetime | None = None) -> OrderSummary:
    """The order summary (the PDF's model) as its contact or delegate may read it: the
    history keeps only what the order's own people did (no operator's or other
    organization's addresses)."""
    order_id = _order_of(actor, LinkRole.CONTACT, LinkRole.DELEGATE)
    with reading(db, actor, Permission.READ_ORDERS) as session:
        summary = load_summary(session, order_id, now)
    own = {summary.provisioning_email, summary.delegate_email, actor.email} - {None}
    return dataclasses.replace(summary, history=[e for e in summary.history if e.actor in own])


def _order_of(actor: Actor, *roles: LinkRole) -> str:
    """The link actor's order; anyone else (a signed-in account) is refused."""
    authorize(actor, Permission.READ_ORDERS)
    if actor.role not in roles or actor.order_id is None:
        raise Forbidden(f"{actor.email} ({actor.role.value}) has no order link of this kind")
    if actor.role is LinkRole.APPROVER and actor.approval_id is None:
        raise Forbidden(f"{actor.email}: the approval link names no request")
    return actor.order_id
