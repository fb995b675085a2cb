"""Workflow part 1: who the order is for, and which organization it goes to.

Mapping is the point of no return. Before it, the provisioning e-mail can be corrected,
the welcome e-mail re-sent and the intent changed; after it, the org only changes through
an explicit, audited reversal (`unmap`). Attaching to an established org (100+ members,
or a verified or claimed domain) waits for its administrator's approval first, as
Control Hub's partner flow does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import pycountry
from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from matching.errors import InvalidEmail
from matching.normalize import email_domain, normalize_email, registrable_domain
from matching.vocabulary import DomainStatus, MemberStatus, OrgStatus
from provisioning.access import Actor, Permission, authorize
from provisioning.db import Database
from provisioning.errors import Conflict, FieldError, InvalidInput
from provisioning.models import (
    MeetingsSite,
    Member,
    Order,
    OrderService,
    Org,
    OrgApproval,
    OrgDomain,
    OutboxEmail,
    PartnerAccess,
)
from provisioning.models.base import utcnow
from provisioning.models.setup import CallingLocation
from provisioning.orders import emails
from provisioning.orders.unit import ActionResult, locked_order, record, snapshot
from provisioning.orders.workflow import Action, require
from provisioning.rules import canonical_industry, check_industry
from provisioning.states import (
    ApprovalStatus,
    Decision,
    Intent,
    OrderState,
    PartnerRole,
    ServiceState,
)

# Control Hub asks the administrator of an org this large before a partner attaches to it.
APPROVAL_MEMBERS = 100
_MAPPED = frozenset({OrderState.AWAITING_APPROVAL, OrderState.ORG_MAPPED, OrderState.COMPLETE})


def valid_email(value: str | None, field: str) -> str:
    """A normalised address, or the refusal naming `field`."""
    if value is None or not value.strip():
        raise InvalidInput(FieldError(field, "an e-mail address is required"))
    try:
        return normalize_email(value)
    except InvalidEmail as exc:
        raise InvalidInput(FieldError(field, str(exc))) from None


def set_intent(
    db: Database,
    order_id: str,
    intent: str,
    actor: Actor,
    email: str | None = None,
    now: datetime | None = None,
) -> ActionResult:
    """Say who the order is for; `delegate` hands it to `email`, who gets an e-mail."""
    actor, now = authorize(actor, Permission.RESOLVE_ORDERS), now or utcnow()
    try:
        chosen = Intent(intent)
    except ValueError:
        choices = ", ".join(i.value for i in Intent)
        raise InvalidInput(
            FieldError("intent", f"must be one of {choices}", value=intent)
        ) from None
    delegate = None
    if chosen is Intent.DELEGATE:
        delegate = valid_email(email, "email")
    elif email:
        raise InvalidInput(FieldError("email", "only an order delegated to someone takes one"))
    target = OrderState.DELEGATED if chosen is Intent.DELEGATE else OrderState.AWAITING_ORG
    action = Action.DELEGATE if chosen is Intent.DELEGATE else Action.INTENT
    with locked_order(db, order_id, actor, now) as (session, order):
        if chosen is Intent.CUSTOMER and order.partner_id is None:
            raise InvalidInput(
                FieldError("intent", "only an order placed by a partner can be for a customer")
            )
        unchanged = order.intent == chosen and order.state == target
        if unchanged and (delegate is None or order.delegate_email == delegate):
            return ActionResult(order_id, action.value, False, order.state)
        require(action, order.state, order_id)
        before = snapshot(order)
        order.intent = chosen.value
        if delegate is not None:
            order.delegate_email = delegate
        _move(order, target, now)
        session.flush()
        superseded: dict[str, object] = {}
        if delegate is not None:
            superseded = emails.after_delegated(session, order_id, delegate, now)
            emails.queue(
                session, emails.delegated(order, delegate), order, f"v{order.version}", now
            )
        record(session, actor, action, order, before, {**snapshot(order), **superseded}, now)
        return ActionResult(order_id, action.value, True, order.state)


def correct_email(
    db: Database, order_id: str, email: str, actor: Actor, now: datetime | None = None
) -> ActionResult:
    """Fix a mistyped provisioning e-mail before mapping, and re-send the welcome to it."""
    actor, now = authorize(actor, Permission.RESOLVE_ORDERS), now or utcnow()
    address = valid_email(email, "email")
    with locked_order(db, order_id, actor, now) as (session, order):
        if order.provisioning_email == address:
            return ActionResult(order_id, Action.CORRECT_EMAIL.value, False, order.state)
        require(Action.CORRECT_EMAIL, order.state, order_id)
        before = snapshot(order)
        superseded = emails.after_contact_changed(session, order_id, order.provisioning_email, now)
        order.provisioning_email = address
        session.flush()
        emails.queue(session, emails.welcome(order), order, f"v{order.version}", now)
        after = {**snapshot(order), **superseded}
        record(session, actor, Action.CORRECT_EMAIL, order, before, after, now)
        return ActionResult(order_id, Action.CORRECT_EMAIL.value, True, order.state)


def resend_welcome(
    db: Database, order_id: str, actor: Actor, now: datetime | None = None
) -> ActionResult:
    """Queue the welcome e-mail again, unless one to the same address is still unsent."""
    actor, now = authorize(actor, Permission.RESOLVE_ORDERS), now or utcnow()
    with locked_order(db, order_id, actor, now) as (session, order):
        require(Action.RESEND_WELCOME, order.state, order_id)
        welcomes = select(OutboxEmail).where(
            OutboxEmail.order_id == order_id, OutboxEmail.kind == "welcome"
        )
        waiting = session.scalar(
            select(
                exists(
                    welcomes.where(
                        OutboxEmail.recipient == order.provisioning_email,
                        OutboxEmail.status.in_(("pending", "sending")),
                    )
                )
            )
        )
        if waiting:
            return ActionResult(order_id, Action.RESEND_WELCOME.value, False, order.state)
        count = session.scalar(select(func.count()).select_from(welcomes.subquery())) or 0
        queued = emails.queue(session, emails.welcome(order), order, f"resend-{count + 1}", now)
        if queued:
            record(
                session,
                actor,
                Action.RESEND_WELCOME,
                order,
                None,
                {"recipient": order.provisioning_email},
                now,
            )
        return ActionResult(order_id, Action.RESEND_WELCOME.value, queued, order.state)


def map_org(
    db: Database, order_id: str, org_id: str, actor: Actor, now: datetime | None = None
) -> ActionResult:
    """Attach the order to an existing org: the recommendation, another candidate or any
    org found by search. Waits for approval where the org is established."""
    actor, now = authorize(actor, Permission.RESOLVE_ORDERS), now or utcnow()
    with locked_order(db, order_id, actor, now) as (session, order):
        org = session.get(Org, org_id)
        if org is None:
            raise InvalidInput(FieldError("org", "no such organization", value=org_id))
        if order.org_id == org_id and OrderState(order.state) in _MAPPED:
            return ActionResult(order_id, Action.MAP.value, False, order.state)
        require(Action.MAP, order.state, order_id)
        if org_id == order.partner_id and order.intent == Intent.CUSTOMER:
            raise InvalidInput(
                FieldError(
                    "org",
                    "is the ordering partner's own organization; choose the customer's",
                    value=org_id,
                )
            )
        before = snapshot(order)
        answer = _recommendation(session, order, now)
        order.org_id = org_id
        order.new_org = False
        answer.record_on(order)
        order.decision = (
            Decision.ACCEPTED if answer.org_id == org_id else Decision.CHOSE_OTHER
        ).value
        order.decided_by, order.decided_at = actor.email, now
        admin = approver_for(session, order, org)
        if admin is not None:
            _move(order, OrderState.AWAITING_APPROVAL, now)
            session.add(
                OrgApproval(
                    order_id=order_id,
                    org_id=org_id,
                    admin_email=admin,
                    status=ApprovalStatus.PENDING.value,
                    requested_by=actor.email,
                    requested_at=now,
                )
            )
            session.flush()
            approval_id = session.scalars(
                select(OrgApproval.id)
                .where(OrgApproval.order_id == order_id)
                .order_by(OrgApproval.id.desc())
                .limit(1)
            ).one()
            email = emails.approval_request(order, org.name, admin, approval_id, actor.email)
            emails.queue(session, email, order, f"v{order.version}", now)
            record(session, actor, Action.MAP, order, before, snapshot(order), now)
            record(session, actor, Action.REQUEST_APPROVAL, order, None, {"admin": admin}, now)
        else:
            _take_effect(session, order, org, actor, now, new_org=False)
            record(session, actor, Action.MAP, order, before, snapshot(order), now)
        return ActionResult(order_id, Action.MAP.value, True, order.state)


def answer_approval(
    db: Database,
    order_id: str,
    approve: bool,
    actor: Actor,
    reason: str | None = None,
    now: datetime | None = None,
) -> ActionResult:
    """Record the org administrator's answer: approval makes the mapping take effect, a
    decline sends the order back to the organization finder."""
    actor, now = authorize(actor, Permission.ANSWER_APPROVAL), now or utcnow()
    action = Action.APPROVE if approve else Action.DECLINE
    with locked_order(db, order_id, actor, now) as (session, order):
        last = session.scalars(
            select(OrgApproval)
            .where(OrgApproval.order_id == order_id)
            .order_by(OrgApproval.id.desc())
            .limit(1)
        ).first()
        done = ApprovalStatus.APPROVED if approve else ApprovalStatus.DECLINED
        if last is not None and last.status == done and order.state != OrderState.AWAITING_APPROVAL:
            return ActionResult(order_id, action.value, False, order.state)
        require(action, order.state, order_id)
        if last is None or last.status != ApprovalStatus.PENDING:
            raise Conflict(f"order {order_id}: no approval request is pending")
        if actor.approval_id is not None and actor.approval_id != last.id:
            # An approver's link answers the one request it was sent for, not a later one.
            raise Conflict(f"order {order_id}: this approval request was already answered")
        before = snapshot(order)
        last.status, last.decided_by, last.decided_at, last.reason = (
            done.value,
            actor.email,
            now,
            reason,
        )
        superseded = emails.after_approval(session, order_id, last.id, done.value, now)
        if approve:
            org = session.get_one(Org, order.org_id)
            _take_effect(session, order, org, actor, now, new_org=False)
        else:
            _forget_org(order)
            _move(order, OrderState.AWAITING_ORG, now)
        after = {**snapshot(order), "reason": reason, **superseded}
        record(session, actor, action, order, before, after, now)
        return ActionResult(order_id, action.value, True, order.state)


def create_org(
    db: Database,
    order_id: str,
    name: str,
    industry: str,
    country: str,
    actor: Actor,
    now: datetime | None = None,
) -> ActionResult:
    """No existing org is right: create one for the order (company name, industry
    vertical from the fixed list, country) and map the order to it."""
    actor, now = authorize(actor, Permission.RESOLVE_ORDERS), now or utcnow()
    name, country_code, vertical = _new_org_fields(name, industry, country)
    with locked_order(db, order_id, actor, now) as (session, order):
        if order.new_org and order.org_id and OrderState(order.state) in _MAPPED:
            org = session.get_one(Org, order.org_id)
            if (org.name, org.industry, org.country) == (name, vertical, country_code):
                return ActionResult(order_id, Action.CREATE_ORG.value, False, order.state)
        require(Action.CREATE_ORG, order.state, order_id)
        before = snapshot(order)
        # Asked before the new org exists: the finder would otherwise find the order's own
        # contact in it and "recommend" the org created for it.
        answer = _recommendation(session, order, now)
        for_customer = order.intent == Intent.CUSTOMER
        org = Org(
            org_id=f"org-{uuid.uuid4().hex[:12]}",
            name=name,
            country=country_code,
            industry=vertical,
            created_at=now,
            status=OrgStatus.ACTIVE.value,
            partner_id=order.partner_id if for_customer else None,
        )
        session.add(org)
        session.flush()
        if not for_customer and session.get(Member, order.provisioning_email) is None:
            # Whoever provisions for their own company becomes the new org's first user.
            session.add(
                Member(
                    email=order.provisioning_email,
                    org_id=org.org_id,
                    registrable_domain=registrable_domain(email_domain(order.provisioning_email)),
                    status=MemberStatus.ACTIVE.value,
                    last_activity_at=now,
                )
            )
        answer.record_on(order)
        order.org_id, order.new_org = org.org_id, True
        order.decision = Decision.CREATED_ORG.value
        order.decided_by, order.decided_at = actor.email, now
        _take_effect(session, order, org, actor, now, new_org=True)
        after = {**snapshot(order), "org_name": name, "industry": vertical, "country": country_code}
        record(session, actor, Action.CREATE_ORG, order, before, after, now)
        return ActionResult(order_id, Action.CREATE_ORG.value, True, order.state, org.org_id)


def unmap(
    db: Database, order_id: str, reason: str, actor: Actor, now: datetime | None = None
) -> ActionResult:
    """The explicit, audited reversal of a mapping: back to the organization finder.

    Refused once anything was set up in the org (a site or a location exists): those
    live in the org and cannot follow the order elsewhere.
    """
    actor, now = authorize(actor, Permission.RESOLVE_ORDERS), now or utcnow()
    if not reason or not reason.strip():
        raise InvalidInput(FieldError("reason", "say why the mapping is reversed"))
    with locked_order(db, order_id, actor, now) as (session, order):
        if order.state == OrderState.AWAITING_ORG and order.org_id is None:
            return ActionResult(order_id, Action.UNMAP.value, False, order.state)
        require(Action.UNMAP, order.state, order_id)
        built = session.scalar(
            select(
                exists().where(MeetingsSite.order_id == order_id)
                | exists().where(CallingLocation.order_id == order_id)
            )
        )
        if built:
            raise Conflict(
                f"order {order_id}: services are already set up in {order.org_id}; "
                "a mapping with sites or locations cannot be reversed"
            )
        before = snapshot(order)
        superseded = emails.after_unmapped(session, order_id, now)
        session.execute(
            update(OrgApproval)
            .where(OrgApproval.order_id == order_id, OrgApproval.status == ApprovalStatus.PENDING)
            .values(
                status=ApprovalStatus.DECLINED.value,
                decided_by=actor.email,
                decided_at=now,
                reason=f"withdrawn: {reason.strip()}",
            )
        )
        _release_partner_access(session, order)
        session.execute(
            update(OrderService)
            .where(OrderService.order_id == order_id)
            .values(state=ServiceState.PENDING.value, updated_by=actor.email, updated_at=now)
        )
        _forget_org(order)
        order.customer_admin_email = None
        _move(order, OrderState.AWAITING_ORG, now)
        after = {**snapshot(order), "reason": reason, **superseded}
        record(session, actor, Action.UNMAP, order, before, after, now)
        return ActionResult(order_id, Action.UNMAP.value, True, order.state)


def _release_partner_access(session: Session, order: Order) -> None:
    """The partner's role in the org was granted through this order: it passes to another
    of the partner's orders still mapped there, or ends with the last one."""
    granted = session.scalars(
        select(PartnerAccess).where(PartnerAccess.order_id == order.order_id)
    ).all()
    for access in granted:
        heir = session.scalar(
            select(Order.order_id)
            .where(
                Order.partner_id == access.partner_id,
                Order.org_id == access.org_id,
                Order.order_id != order.order_id,
                Order.state.in_([OrderState.ORG_MAPPED, OrderState.COMPLETE]),
            )
            .order_by(Order.mapped_at, Order.order_id)
            .limit(1)
        )
        if heir is None:
            session.delete(access)
        else:
            access.order_id = heir


def _new_org_fields(name: str, industry: str, country: str) -> tuple[str, str, str]:
    errors = []
    name = (name or "").strip()
    if not name:
        errors.append(FieldError("name", "the company name is required"))
    elif len(name) > 255:
        errors.append(FieldError("name", "at most 255 characters"))
    if problem := check_industry(industry or "", "industry"):
        errors.append(problem)
    code = (country or "").strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        errors.append(FieldError("country", "not an ISO 3166 country code", value=country))
    if errors:
        raise InvalidInput(errors)
    return name, code, canonical_industry(industry)


def _move(order: Order, state: OrderState, now: datetime) -> None:
    order.state = state.value
    order.state_changed_at = now


def _forget_org(order: Order) -> None:
    order.org_id = None
    order.new_org = False
    order.decision = order.decided_by = order.decided_at = order.mapped_at = None
    NO_ANSWER.record_on(order)


@dataclass(frozen=True, slots=True)
class Answer:
    """The finder's answer at decision time, as the order records it."""

    org_id: str | None  # None: create a new organization (or nothing recorded)
    confidence: float | None
    review: str | None  # matching.scorer.Review: auto / confirm / operator
    model_version: str | None  # a version number or "default", as OrderMatch keeps it

    def record_on(self, order: Order) -> None:
        order.recommended_org_id = self.org_id
        order.recommended_confidence = self.confidence
        order.recommended_review = self.review
        order.recommended_by_model = self.model_version


NO_ANSWER = Answer(None, None, None, None)


def _recommendation(session: Session, order: Order, now: datetime) -> Answer:
    """What the finder answers right now: recorded with the decision, so the history
    says whether the operator accepted it or chose another, and how confident the model
    in use was (the production record of its confident band)."""
    # The finder loads scikit-learn: imported by the decisions that need it, not by every
    # command that imports the order services (`onboard orders show`).
    from matching.matcher import match_order
    from provisioning.finder.active import active_model
    from provisioning.finder.running import order_query
    from provisioning.finder.source import SqlCandidateSource

    active = active_model(session)
    result = match_order(order_query(order), SqlCandidateSource(session), active.model, now)
    return Answer(
        result.recommended_org_id,
        float(result.confidence),
        result.review.value,
        str(active.version),
    )


def approver_for(session: Session, order: Order, org: Org) -> str | None:
    """The administrator to ask before attaching to `org`, or None when no one need be.

    Asked: orgs with 100+ members or a verified/claimed domain. Not asked: orgs the
    ordering partner already manages, orgs the provisioning person belongs to, and orgs
    with no one on record to ask (a domain but no users).
    """
    if order.partner_id is not None and org.partner_id == order.partner_id:
        return None
    member_of = session.scalar(
        select(Member.org_id).where(Member.email == order.provisioning_email)
    )
    if member_of == org.org_id:
        return None
    members = session.scalar(
        select(func.count()).select_from(Member).where(Member.org_id == org.org_id)
    )
    proven = session.scalar(
        select(
            exists().where(
                OrgDomain.org_id == org.org_id,
                OrgDomain.status.in_((DomainStatus.VERIFIED.value, DomainStatus.CLAIMED.value)),
            )
        )
    )
    if (members or 0) < APPROVAL_MEMBERS and not proven:
        return None
    return org_administrator(session, org.org_id)


def org_administrator(session: Session, org_id: str) -> str | None:
    """Who stands for an org's administrator. Members carry no role here: the most
    recently active user does."""
    return session.scalar(
        select(Member.email)
        .where(Member.org_id == org_id)
        .order_by(
            (Member.status == MemberStatus.ACTIVE.value).desc(),
            Member.last_activity_at.desc().nulls_last(),
            Member.email,
        )
        .limit(1)
    )


def _take_effect(
    session: Session, order: Order, org: Org, actor: Actor, now: datetime, new_org: bool
) -> None:
    """The point of no return: the order is in `org`, and a partner acting for its
    customer gets its role there (full administrator only without live licences)."""
    _move(order, OrderState.ORG_MAPPED, now)
    order.mapped_at = now
    if order.partner_id is None or order.intent != Intent.CUSTOMER:
        return
    if session.get(PartnerAccess, (org.org_id, order.partner_id)) is not None:
        return  # the partner already has a role there; never downgrade or duplicate it
    live = not new_org and org.status in (OrgStatus.ACTIVE, OrgStatus.TRIAL)
    role = PartnerRole.PROVISIONING_ADMINISTRATOR if live else PartnerRole.FULL_ADMINISTRATOR
    session.add(
        PartnerAccess(
            org_id=org.org_id,
            partner_id=order.partner_id,
            role=role.value,
            order_id=order.order_id,
            granted_by=actor.email,
            granted_at=now,
        )
    )
