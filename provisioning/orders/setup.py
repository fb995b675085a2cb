"""Workflow part 2: setting up each service of a mapped order in its org.

Meetings gets its sites (URL names unique across every site there is, licences adding up
to the order's), Calling its main location; either can be left for later, or handed to
the customer's administrator. Each step is kept as soon as it is done, so a person who
stops half-way resumes where they were; the order is complete when every service is
provisioned.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from matching.vocabulary import Service
from provisioning.access import Actor, Permission, authorize
from provisioning.db import Database
from provisioning.errors import Conflict, FieldError, InvalidInput
from provisioning.models import CallingLocation, MeetingsSite, Order, OrderLine, OrderService, Org
from provisioning.models.base import utcnow
from provisioning.orders import emails
from provisioning.orders.mapping import valid_email
from provisioning.orders.unit import ActionResult, locked_order, record
from provisioning.orders.workflow import Action, is_complete, require, require_service
from provisioning.rules import (
    LOCATION_FIELDS,
    LocationSetup,
    MeetingsSetup,
    check_site_name,
    normalise_site_name,
    suggest_site_names,
    validate_location,
    validate_meetings,
)
from provisioning.states import Intent, OrderState, ServiceState


def set_up_meetings(
    db: Database,
    order_id: str,
    sites: Sequence[tuple[str, object]],
    timezone: str,
    actor: Actor,
    early_release: bool = False,
    users_managed_in: str = "control_hub",
    now: datetime | None = None,
) -> ActionResult:
    """Create the order's Meetings sites with its licences split across them."""
    actor, now = authorize(actor, Permission.PROVISION), now or utcnow()
    with locked_order(db, order_id, actor, now) as (session, order):
        service = _service(session, order, Service.MEETINGS)
        if service.state != ServiceState.PROVISIONED:
            require(Action.MEETINGS, order.state, order_id)
            require_service("Meetings", service.state, ServiceState.PROVISIONED, order_id)
        setup = validate_meetings(
            sites,
            timezone,
            early_release,
            users_managed_in,
            _licences(session, order_id, Service.MEETINGS),
        )
        if service.state == ServiceState.PROVISIONED:
            existing = _sites(session, order_id)
            if _same_sites(existing, setup):
                return ActionResult(order_id, Action.MEETINGS.value, False, order.state)
            raise Conflict(
                f"order {order_id}: Meetings is already set up "
                f"({', '.join(s.name for s in existing)}); its sites and early-release "
                "schedule are fixed once they exist"
            )
        _refuse_taken_names(session, order, setup)
        for site in setup.sites:
            session.add(
                MeetingsSite(
                    order_id=order_id,
                    org_id=order.org_id,
                    name=site.name,
                    timezone=setup.timezone,
                    early_release=setup.early_release,
                    licences=site.licences,
                    users_managed_in=setup.users_managed_in,
                    created_at=now,
                    created_by=actor.email,
                )
            )
        try:
            session.flush()
        except IntegrityError:
            raise InvalidInput(
                FieldError("site", "a name was taken by another order a moment ago; check again")
            ) from None
        after = {
            "sites": [{"name": s.name, "licences": s.licences} for s in setup.sites],
            "timezone": setup.timezone,
            "early_release": setup.early_release,
            "users_managed_in": setup.users_managed_in,
        }
        _provisioned(session, order, service, Action.MEETINGS, actor, after, now)
        return ActionResult(order_id, Action.MEETINGS.value, True, order.state)


def set_up_calling(
    db: Database, order_id: str, actor: Actor, now: datetime | None = None, **location: Any
) -> ActionResult:
    """Create the main (HQ) Calling location; more locations come after provisioning.

    `location` takes `validate_location`'s fields (name, country, timezone, languages,
    address, SIP address); the SIP address is pre-filled from the company name.
    """
    actor, now = authorize(actor, Permission.PROVISION), now or utcnow()
    with locked_order(db, order_id, actor, now) as (session, order):
        service = _service(session, order, Service.CALLING)
        if service.state != ServiceState.PROVISIONED:
            require(Action.CALLING, order.state, order_id)
            require_service("Calling", service.state, ServiceState.PROVISIONED, order_id)
        setup = validate_location(company_name=order.company_name, **location)
        if service.state == ServiceState.PROVISIONED:
            current = _main_location(session, order_id)
            if current is not None and _location_setup(current) == setup:
                return ActionResult(order_id, Action.CALLING.value, False, order.state)
            raise Conflict(
                f"order {order_id}: Calling is already set up with its main location; "
                "add more locations in Control Hub"
            )
        session.add(
            CallingLocation(
                order_id=order_id,
                org_id=order.org_id,
                is_main=True,
                created_at=now,
                created_by=actor.email,
                **_location_columns(setup),
            )
        )
        after = {"location": _location_columns(setup)}
        _provisioned(session, order, service, Action.CALLING, actor, after, now)
        return ActionResult(order_id, Action.CALLING.value, True, order.state)


def configure_later(
    db: Database, order_id: str, service_name: str, actor: Actor, now: datetime | None = None
) -> ActionResult:
    """Leave a service not provisioned, to be resumed later (workflow part 2)."""
    actor, now = authorize(actor, Permission.PROVISION), now or utcnow()
    with locked_order(db, order_id, actor, now) as (session, order):
        service = _service(session, order, _service_name(service_name))
        if service.state == ServiceState.CONFIGURE_LATER:
            return ActionResult(order_id, Action.CONFIGURE_LATER.value, False, order.state)
        require(Action.CONFIGURE_LATER, order.state, order_id)
        require_service(service.service, service.state, ServiceState.CONFIGURE_LATER, order_id)
        before = {"service": service.service, "state": service.state}
        service.state, service.updated_by, service.updated_at = (
            ServiceState.CONFIGURE_LATER.value,
            actor.email,
            now,
        )
        after = {"service": service.service, "state": service.state}
        record(session, actor, Action.CONFIGURE_LATER, order, before, after, now)
        return ActionResult(order_id, Action.CONFIGURE_LATER.value, True, order.state)


def hand_to_customer(
    db: Database, order_id: str, admin_email: str, actor: Actor, now: datetime | None = None
) -> ActionResult:
    """ "My customer will set up their own services": the customer's administrator gets an
    e-mail to continue, every service not yet provisioned waits for them, and the
    partner keeps its access to the org."""
    actor, now = authorize(actor, Permission.PROVISION), now or utcnow()
    admin = valid_email(admin_email, "admin_email")
    with locked_order(db, order_id, actor, now) as (session, order):
        services = _services(session, order_id)
        open_services = [s for s in services if s.state != ServiceState.PROVISIONED]
        if (
            order.customer_admin_email == admin
            and all(s.state == ServiceState.CUSTOMER_SELF_SETUP for s in open_services)
            and OrderState(order.state) == OrderState.ORG_MAPPED
        ):
            return ActionResult(order_id, Action.SELF_SETUP.value, False, order.state)
        require(Action.SELF_SETUP, order.state, order_id)
        if order.intent != Intent.CUSTOMER:
            raise Conflict(
                f"order {order_id}: only a partner provisioning for its customer can hand "
                "the setup to the customer"
            )
        if not open_services:
            raise Conflict(f"order {order_id}: every service is already provisioned")
        before = {"customer_admin_email": order.customer_admin_email}
        for service in open_services:
            require_service(
                service.service, service.state, ServiceState.CUSTOMER_SELF_SETUP, order_id
            )
            service.state, service.updated_by, service.updated_at = (
                ServiceState.CUSTOMER_SELF_SETUP.value,
                actor.email,
                now,
            )
        order.customer_admin_email = admin
        session.flush()
        org = session.get_one(Org, order.org_id)
        email = emails.self_setup(order, admin, org.name)
        emails.queue(session, email, order, f"v{order.version}", now)
        after = {
            "customer_admin_email": admin,
            "services": [s.service for s in open_services],
        }
        record(session, actor, Action.SELF_SETUP, order, before, after, now)
        return ActionResult(order_id, Action.SELF_SETUP.value, True, order.state)


def save_draft(
    db: Database,
    order_id: str,
    service_name: str,
    draft: dict[str, Any],
    actor: Actor,
    now: datetime | None = None,
) -> ActionResult:
    """Keep a half-filled setup form, so the wizard resumes where a person stopped."""
    actor, now = authorize(actor, Permission.PROVISION), now or utcnow()
    with locked_order(db, order_id, actor, now) as (session, order):
        service = _service(session, order, _service_name(service_name))
        if service.draft == draft:
            return ActionResult(order_id, Action.SAVE_DRAFT.value, False, order.state)
        require(Action.SAVE_DRAFT, order.state, order_id)
        if service.state == ServiceState.PROVISIONED:
            raise Conflict(f"order {order_id}: {service.service} is already provisioned")
        service.draft, service.updated_by, service.updated_at = draft, actor.email, now
        after = {"service": service.service, "draft": draft}
        record(session, actor, Action.SAVE_DRAFT, order, None, after, now)
        return ActionResult(order_id, Action.SAVE_DRAFT.value, True, order.state)


def check_site_name_available(
    db: Database, name: str, company_name: str | None = None, count: int = 5
) -> dict[str, Any]:
    """The wizard's *validate* step: is this URL name valid and free? If not, free
    names derived from the company name. Reads only; saving may still lose a race."""
    normalised = normalise_site_name(name)
    reasons = [e.reason for e in check_site_name(normalised, "site")]
    valid = not reasons
    with db.read() as session:
        if valid and _taken(session, [normalised]):
            reasons.append("already taken by another site")
        suggestions = (
            suggest_site_names(
                company_name or normalised, lambda names: _taken(session, names), count=count
            )
            if reasons
            else []
        )
    return {
        "name": normalised,
        "valid": valid,
        "free": not reasons,
        "reasons": reasons,
        "suggestions": suggestions,
    }


def _service_name(value: str) -> Service:
    try:
        return Service(value)
    except ValueError:
        raise InvalidInput(
            FieldError("service", "must be meetings or calling", value=value)
        ) from None


def _services(session: Session, order_id: str) -> list[OrderService]:
    return list(
        session.scalars(
            select(OrderService)
            .where(OrderService.order_id == order_id)
            .order_by(OrderService.service)
        )
    )


def _service(session: Session, order: Order, name: Service) -> OrderService:
    service = session.get(OrderService, (order.order_id, name.value))
    if service is None:
        label = "Meetings" if name is Service.MEETINGS else "Calling"
        raise InvalidInput(FieldError("service", f"order {order.order_id} has no {label} licences"))
    return service


def _licences(session: Session, order_id: str, service: Service) -> int:
    return (
        session.scalar(
            select(func.coalesce(func.sum(OrderLine.quantity), 0)).where(
                OrderLine.order_id == order_id, OrderLine.service == service.value
            )
        )
        or 0
    )


def _sites(session: Session, order_id: str) -> list[MeetingsSite]:
    return list(
        session.scalars(
            select(MeetingsSite).where(MeetingsSite.order_id == order_id).order_by(MeetingsSite.id)
        )
    )


def _same_sites(existing: list[MeetingsSite], setup: MeetingsSetup) -> bool:
    have = sorted(
        (s.name, s.licences, s.timezone, s.early_release, s.users_managed_in) for s in existing
    )
    want = sorted(
        (s.name, s.licences, setup.timezone, setup.early_release, setup.users_managed_in)
        for s in setup.sites
    )
    return have == want


def _taken(session: Session, names: Sequence[str]) -> set[str]:
    """Which of `names` some site already uses: one indexed query per call."""
    if not names:
        return set()
    return set(session.scalars(select(MeetingsSite.name).where(MeetingsSite.name.in_(names))))


def _refuse_taken_names(session: Session, order: Order, setup: MeetingsSetup) -> None:
    taken = _taken(session, [s.name for s in setup.sites])
    if not taken:
        return
    free = suggest_site_names(order.company_name, lambda names: _taken(session, names))
    hint = f"; free names: {', '.join(free)}" if free else ""
    raise InvalidInput(
        [
            FieldError(f"site[{i}].name", f"{site.name} is already taken{hint}", value=site.name)
            for i, site in enumerate(setup.sites, start=1)
            if site.name in taken
        ]
    )


def _main_location(session: Session, order_id: str) -> CallingLocation | None:
    return session.scalars(
        select(CallingLocation).where(
            CallingLocation.order_id == order_id, CallingLocation.is_main.is_(True)
        )
    ).first()


def _location_columns(setup: LocationSetup) -> dict[str, Any]:
    return {name: getattr(setup, name) for name in LOCATION_FIELDS}


def _location_setup(location: CallingLocation) -> LocationSetup:
    return LocationSetup(**{name: getattr(location, name) for name in LOCATION_FIELDS})


def _provisioned(
    session: Session,
    order: Order,
    service: OrderService,
    action: Action,
    actor: Actor,
    after: dict[str, Any],
    now: datetime,
) -> None:
    """Mark a service provisioned, audit it, and complete the order with its last one."""
    before = {"service": service.service, "state": service.state}
    service.state = ServiceState.PROVISIONED.value
    service.provisioned_at = service.updated_at = now
    service.updated_by, service.draft = actor.email, None
    record(session, actor, action, order, before, {"state": service.state, **after}, now)
    if is_complete(s.state for s in _services(session, order.order_id)):
        order.state, order.state_changed_at = OrderState.COMPLETE.value, now
        order.at_risk = False
        superseded = emails.after_closed(session, order.order_id, OrderState.COMPLETE, now)
        after = {"state": order.state, **superseded}
        record(session, actor, Action.COMPLETE, order, None, after, now)
