"""Read models of one order: its summary (for `orders show`, the PDF and the app) and
the step a person resumes at."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning.access import Actor, Permission, reading
from provisioning.db import Database
from provisioning.errors import NotFound
from provisioning.models import (
    AuditEvent,
    CallingLocation,
    MeetingsSite,
    Order,
    OrderLine,
    OrderService,
    Org,
    OrgApproval,
    PartnerAccess,
)
from provisioning.models.base import utcnow
from provisioning.orders.summary import (
    HistoryEntry,
    LicenceLine,
    LocationSummary,
    OrderSummary,
    ServiceSummary,
    SiteSummary,
)
from provisioning.rules import LOCATION_FIELDS
from provisioning.states import OrderState, ServiceState


def load_summary(session: Session, order_id: str, now: datetime | None = None) -> OrderSummary:
    """Everything the order set up and who did what, as plain data, as of `now` (by
    default as of the order's last change)."""
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound(f"order {order_id!r} does not exist")
    orgs = {
        org.org_id: org
        for org in session.scalars(
            select(Org).where(Org.org_id.in_([o for o in (order.org_id, order.partner_id) if o]))
        )
    }
    org, partner = orgs.get(order.org_id or ""), orgs.get(order.partner_id or "")
    lines = [
        LicenceLine(line.service, line.quantity, line.is_trial_conversion, line.is_addon)
        for line in session.scalars(
            select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.line_no)
        )
    ]
    sites = defaultdict(list)
    for site in session.scalars(
        select(MeetingsSite).where(MeetingsSite.order_id == order_id).order_by(MeetingsSite.id)
    ):
        sites["meetings"].append(
            SiteSummary(
                site.name, site.timezone, site.early_release, site.licences, site.users_managed_in
            )
        )
    locations = [
        LocationSummary(**{f: getattr(loc, f) for f in LOCATION_FIELDS}, is_main=loc.is_main)
        for loc in session.scalars(
            select(CallingLocation)
            .where(CallingLocation.order_id == order_id)
            .order_by(CallingLocation.is_main.desc(), CallingLocation.id)
        )
    ]
    service_rows = list(
        session.scalars(
            select(OrderService)
            .where(OrderService.order_id == order_id)
            .order_by(OrderService.service.desc())  # meetings before calling, as the seed
        )
    )
    services = [
        ServiceSummary(
            service=svc.service,
            state=svc.state,
            licences=sum(line.quantity for line in lines if line.service == svc.service),
            trial_conversion=any(
                line.is_trial_conversion for line in lines if line.service == svc.service
            ),
            addon=any(line.is_addon for line in lines if line.service == svc.service),
            sites=sites.get(svc.service, []),
            locations=locations if svc.service == "calling" else [],
            updated_by=svc.updated_by,
            provisioned_at=svc.provisioned_at,
        )
        for svc in service_rows
    ]
    role = None
    if order.org_id and order.partner_id:
        access = session.get(PartnerAccess, (order.org_id, order.partner_id))
        role = access.role if access else None
    history = [
        HistoryEntry(event.at, event.actor, event.action, event.after or {}, event.role)
        for event in session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "order", AuditEvent.entity_id == order_id)
            .order_by(AuditEvent.at, AuditEvent.id)
        )
    ]
    return OrderSummary(
        order_id=order.order_id,
        placed_at=order.placed_at,
        state=order.state,
        company_name=order.company_name,
        provisioning_email=order.provisioning_email,
        country=order.country,
        partner_id=order.partner_id,
        partner_name=partner.name if partner else None,
        intent=order.intent,
        delegate_email=order.delegate_email,
        org_id=order.org_id,
        org_name=org.name if org else None,
        org_country=org.country if org else None,
        new_org=order.new_org,
        decision=order.decision,
        decided_by=order.decided_by,
        decided_at=order.decided_at,
        mapped_at=order.mapped_at,
        customer_admin_email=order.customer_admin_email,
        partner_role=role,
        lines=lines,
        services=services,
        history=history,
        # Without a `now`, the moment of the order's last change: the summary (and the PDF
        # made from it) is then the same document however often it is made.
        generated_at=now
        or max(
            [order.placed_at, order.updated_at]
            + [svc.updated_at for svc in service_rows]
            + [event.at for event in history]
        ),
    )


def next_step(summary: OrderSummary) -> str:
    """Where a person resumes: the first thing the workflow still needs."""
    state = OrderState(summary.state)
    if state is OrderState.AWAITING_INTENT:
        return "intent"
    if state is OrderState.DELEGATED:
        return "waiting for the delegate"
    if state is OrderState.AWAITING_ORG:
        return "organization"
    if state is OrderState.AWAITING_APPROVAL:
        return "waiting for the org administrator's approval"
    if state is OrderState.ORG_MAPPED:
        for service in summary.services:
            if service.state == ServiceState.PENDING:
                return service.service
        return "nothing: the remaining services were left for later or for the customer"
    return "nothing"


def order_detail(
    session: Session, order_id: str, deadline_days: int, now: datetime | None = None
) -> dict[str, Any]:
    """`onboard orders show --format json`: the order, its services and what comes next.

    Keys are a contract for operators' scripts: add, never rename.
    """
    now = now or utcnow()
    summary = load_summary(session, order_id, now)
    order = session.get_one(Order, order_id)
    approval = session.scalars(
        select(OrgApproval)
        .where(OrgApproval.order_id == order_id)
        .order_by(OrgApproval.id.desc())
        .limit(1)
    ).first()
    drafts = {
        service: draft
        for service, draft in session.execute(
            select(OrderService.service, OrderService.draft).where(
                OrderService.order_id == order_id
            )
        )
    }
    services: dict[str, Any] = {}
    for service in summary.services:
        entry: dict[str, Any] = {
            "state": service.state,
            "licences": service.licences,
            "trial_conversion": service.trial_conversion,
            "addon": service.addon,
            "provisioned_at": service.provisioned_at,
            "draft": drafts.get(service.service),
        }
        if service.service == "meetings":
            entry["sites"] = [
                {
                    "name": s.name,
                    "url": s.url,
                    "licences": s.licences,
                    "timezone": s.timezone,
                    "early_release": s.early_release,
                    "users_managed_in": s.users_managed_in,
                }
                for s in service.sites
            ]
        else:
            main = service.location
            entry["location"] = {f: getattr(main, f) for f in LOCATION_FIELDS} if main else None
        services[service.service] = entry
    return {
        "order_id": summary.order_id,
        "state": summary.state,
        "intent": summary.intent,
        "org_id": summary.org_id,
        "org_name": summary.org_name,
        "new_org": summary.new_org,
        "decision": summary.decision,
        "decided_by": summary.decided_by,
        "mapped_at": summary.mapped_at,
        "placed_at": summary.placed_at,
        "company_name": summary.company_name,
        "country": summary.country,
        "provisioning_email": summary.provisioning_email,
        "partner_id": summary.partner_id,
        "partner_role": summary.partner_role,
        "delegate_email": summary.delegate_email,
        "customer_admin_email": summary.customer_admin_email,
        "approval": (
            {
                "status": approval.status,
                "org_id": approval.org_id,
                "admin_email": approval.admin_email,
                "decided_by": approval.decided_by,
            }
            if approval
            else None
        ),
        "deadline": summary.placed_at + timedelta(days=deadline_days),
        "at_risk": order.at_risk,
        "next_step": next_step(summary),
        "lines": [
            {
                "service": line.service,
                "licences": line.quantity,
                "trial_conversion": line.is_trial_conversion,
                "addon": line.is_addon,
            }
            for line in summary.lines
        ],
        "services": services,
    }


# --- for a viewer: the permission checked here, for the app, the CLI and the notebooks ---


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order as the order page shows it: `order_detail` (the CLI's contract, with the
    drafts), the summary (the PDF's model) and its age."""

    detail: dict[str, Any]
    summary: OrderSummary
    age_days: int

    @property
    def order_id(self) -> str:
        return self.summary.order_id

    @property
    def state(self) -> str:
        return self.summary.state

    def draft(self, service: str) -> dict[str, Any]:
        entry = self.detail["services"].get(service) or {}
        return dict(entry.get("draft") or {})


def order_view_for(
    db: Database, viewer: Actor, order_id: str, deadline_days: int, now: datetime | None = None
) -> OrderView:
    """One order as `viewer` may see it (NotFound for another partner's)."""
    now = now or utcnow()
    with reading(db, viewer, Permission.READ_ORDERS) as session:
        detail = order_detail(session, order_id, deadline_days, now)
        summary = load_summary(session, order_id, now)
    return OrderView(detail, summary, (now - summary.placed_at).days)


def summary_for(
    db: Database, viewer: Actor, order_id: str, now: datetime | None = None
) -> OrderSummary:
    """The order summary (the PDF's model) as `viewer` may see it."""
    with reading(db, viewer, Permission.READ_ORDERS) as session:
        return load_summary(session, order_id, now)
