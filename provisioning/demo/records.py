"""What the real services leave behind for each workflow state the demo gives an order.

The demo sets its orders' states in bulk rather than replaying every action, so the
records those actions would have written are added here, in the same transaction: the
pending approval request of an order waiting for it, the partner's role in the org and
the mapping time of a mapped order, the Meetings sites and the Calling main location of a
provisioned service, the customer's administrator of a service handed to the customer.
Every state the demo produces is then one the services reach, and continue from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matching.normalize import email_domain
from matching.vocabulary import OrgStatus
from provisioning.demo.world import OrderPlan
from provisioning.errors import InvalidInput
from provisioning.models import (
    CallingLocation,
    MeetingsSite,
    Order,
    OrderLine,
    Org,
    OrgApproval,
    PartnerAccess,
)
from provisioning.orders.mapping import approver_for, org_administrator
from provisioning.rules import default_timezone
from provisioning.rules.locations import LOCATION_FIELDS, validate_location
from provisioning.rules.site_names import suggest_site_names
from provisioning.states import (
    ApprovalStatus,
    Intent,
    OrderState,
    PartnerRole,
    ServiceState,
)

# A main office per demo country, in the format its postal service (and the Calling
# form's address check) expects: (address line, city, postal code, state or None).
OFFICES: dict[str, tuple[str, str, str, str | None]] = {
    "SE": ("Sveavägen 1", "Stockholm", "111 57", None),
    "NO": ("Karl Johans gate 1", "Oslo", "0154", None),
    "DE": ("Unter den Linden 1", "Berlin", "10117", None),
    "GB": ("1 Whitehall", "London", "SW1A 2AA", None),
    "AU": ("1 George Street", "Sydney", "2000", "NSW"),
    "JP": ("1-1 Marunouchi", "Chiyoda-ku", "100-0005", "東京都"),
    "BR": ("Avenida Paulista 1000", "São Paulo", "01310-100", "SP"),
    "NZ": ("1 Queen Street", "Auckland", "1010", None),
    "US": ("1 Main Street", "New York", "10001", "NY"),
    "FR": ("1 Rue de Rivoli", "Paris", "75001", None),
    "NL": ("Damrak 1", "Amsterdam", "1012 LG", None),
    "ES": ("Gran Vía 1", "Madrid", "28013", "M"),
    "IN": ("1 MG Road", "Bengaluru", "560001", "Karnataka"),
}


def reachable(session: Session, plans: Sequence[OrderPlan]) -> list[OrderPlan]:
    """The plans, with "waiting for approval" kept only where mapping to that org would
    ask its administrator (established org, not the partner's own customer, not the
    provisioning person's org); elsewhere the mapping took effect at once."""
    result = []
    for plan in plans:
        if plan.state is OrderState.AWAITING_APPROVAL and _admin_to_ask(session, plan) is None:
            plan = replace(plan, state=OrderState.ORG_MAPPED)
        result.append(plan)
    return result


def leave_records(session: Session, plans: Sequence[OrderPlan], now: datetime, job: str) -> None:
    """Add, for orders whose states were set in bulk, what each state's actions record."""
    taken: set[str] = set(session.scalars(select(MeetingsSite.name)))
    for plan in plans:
        if plan.state not in (
            OrderState.AWAITING_APPROVAL,
            OrderState.ORG_MAPPED,
            OrderState.COMPLETE,
        ):
            continue
        order = session.get_one(Order, plan.order_id)
        org = session.get_one(Org, order.org_id)
        since = now - plan.state_age
        if plan.state is OrderState.AWAITING_APPROVAL:
            session.add(
                OrgApproval(
                    order_id=order.order_id,
                    org_id=org.org_id,
                    admin_email=_admin_to_ask(session, plan),
                    status=ApprovalStatus.PENDING.value,
                    requested_by=job,
                    requested_at=since,
                )
            )
            continue
        order.mapped_at = since
        _partner_role(session, order, org, job, since)
        for service, state in plan.services.items():
            if state is ServiceState.PROVISIONED and service == "meetings":
                _site(session, order, org, job, since, taken)
            elif state is ServiceState.PROVISIONED and service == "calling":
                _location(session, order, org, job, since)
            elif state is ServiceState.CUSTOMER_SELF_SETUP:
                order.customer_admin_email = _customer_admin(session, order, org)


def _admin_to_ask(session: Session, plan: OrderPlan) -> str | None:
    order = session.get_one(Order, plan.order_id)
    org = session.get(Org, plan.true_org_id) if plan.true_org_id else None
    if org is None:  # a new org: nobody to ask
        return None
    return approver_for(session, order, org)


def _partner_role(session: Session, order: Order, org: Org, job: str, since: datetime) -> None:
    if order.partner_id is None or order.intent != Intent.CUSTOMER:
        return
    if session.get(PartnerAccess, (org.org_id, order.partner_id)) is not None:
        return
    live = not order.new_org and org.status in (OrgStatus.ACTIVE, OrgStatus.TRIAL)
    role = PartnerRole.PROVISIONING_ADMINISTRATOR if live else PartnerRole.FULL_ADMINISTRATOR
    session.add(
        PartnerAccess(
            org_id=org.org_id,
            partner_id=order.partner_id,
            role=role.value,
            order_id=order.order_id,
            granted_by=job,
            granted_at=since,
        )
    )
    session.flush()  # the next order of this partner in this org sees it


def _site(
    session: Session, order: Order, org: Org, job: str, since: datetime, taken: set[str]
) -> None:
    """One site carrying all the order's Meetings licences, named as the form suggests."""
    name = suggest_site_names(order.company_name, taken.intersection, order.country, count=1)
    licences = session.scalar(
        select(func.sum(OrderLine.quantity)).where(
            OrderLine.order_id == order.order_id, OrderLine.service == "meetings"
        )
    )
    if not name or not licences:
        raise ValueError(f"demo order {order.order_id}: no site name or no Meetings licences")
    taken.add(name[0])
    session.add(
        MeetingsSite(
            order_id=order.order_id,
            org_id=org.org_id,
            name=name[0],
            timezone=default_timezone(order.country or org.country or "") or "UTC",
            early_release=False,
            licences=int(licences),
            created_at=since,
            created_by=job,
        )
    )


def _location(session: Session, order: Order, org: Org, job: str, since: datetime) -> None:
    """The main office, checked by the same rules as the Calling form."""
    country = order.country or org.country or "US"
    line, city, postal, state = OFFICES[country]
    try:
        location = validate_location(
            name=f"{order.company_name} HQ"[:80],
            country=country,
            address_line1=line,
            city=city,
            postal_code=postal,
            state_code=state,
            company_name=order.company_name,
        )
    except InvalidInput as exc:  # a demo country without a valid sample office
        raise ValueError(f"demo office for {country}: {exc}") from None
    session.add(
        CallingLocation(
            order_id=order.order_id,
            org_id=org.org_id,
            is_main=True,
            created_at=since,
            created_by=job,
            **{name: getattr(location, name) for name in LOCATION_FIELDS},
        )
    )


def _customer_admin(session: Session, order: Order, org: Org) -> str:
    """The customer's administrator the setup was handed to: the org's administrator,
    else an IT address on the company's own domain."""
    admin = org_administrator(session, org.org_id)
    return admin or f"it@{email_domain(order.provisioning_email)}"
