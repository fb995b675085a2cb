"""The operators' queue: orders that need a person, ambiguous matches first.

Ranking thousands of orders on every page view would cost seconds, so the finder's answer
for each waiting order is kept in `order_matches` (`provisioning.finder.answers`, run after
imports, by `onboard match --all --save` and from the queue page); the queue itself is
one read: a SQL query over orders, their stored match and their services.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from matching.normalize import name_key
from provisioning.access import Actor, Permission, reading
from provisioning.db import Database, count_where
from provisioning.models import Order, OrderMatch, OrderService, Org
from provisioning.models.base import utcnow
from provisioning.states import (
    WAITING_ON_CUSTOMER,
    OrderState,
    ServiceState,
    WaitingOn,
    waiting_on,
)

# Orders a person has to move on: everything open except a mapped order whose services
# were all decided (provisioned, left for later, or handed to the customer).
QUEUE_STATES: tuple[str, ...] = (
    OrderState.AWAITING_INTENT.value,
    OrderState.DELEGATED.value,
    OrderState.AWAITING_ORG.value,
    OrderState.AWAITING_APPROVAL.value,
    OrderState.ORG_MAPPED.value,
)
# The states in which an order waits for its org: the finder's answer is kept for them.
WAITING_FOR_ORG = (
    OrderState.AWAITING_INTENT.value,
    OrderState.DELEGATED.value,
    OrderState.AWAITING_ORG.value,
)
_ON_CUSTOMER = Order.state.in_([s.value for s in WAITING_ON_CUSTOMER])


@dataclass(frozen=True, slots=True)
class QueueFilter:
    states: tuple[str, ...] = ()
    partner_id: str | None = None
    service: str | None = None
    country: str | None = None
    min_age_days: int | None = None
    max_age_days: int | None = None
    search: str | None = None  # order id, provisioning e-mail, company, org id or name
    waiting_on: str | None = None  # customer / support (`provisioning.states.WaitingOn`)
    # Within each review band, the orders whose decision teaches the finder most first:
    # the least confident (its confidence already folds in the ensemble's disagreement and
    # unfamiliar evidence), instead of the oldest. Learning where it matters, when an
    # analyst retrains soon; the default keeps first come, first served.
    teaching_first: bool = False


@dataclass(frozen=True, slots=True)
class QueueRow:
    order_id: str
    placed_at: datetime
    age_days: int
    state: str
    company_name: str
    provisioning_email: str
    country: str | None
    partner_id: str | None
    partner_name: str | None
    services: tuple[str, ...]
    outcome: str | None  # exact / domain / none; None until the order is scored
    recommended_org_id: str | None
    recommended_org_name: str | None
    confidence: float | None
    review: str | None  # auto / confirm / operator
    at_risk: bool
    org_id: str | None
    org_name: str | None
    waiting_on: str  # customer / support


@dataclass(frozen=True, slots=True)
class QueuePage:
    rows: list[QueueRow]
    total: int
    counts: dict[str, int]


def _needs_a_person() -> Any:
    """Open, and not a mapped order whose every service was already decided."""
    pending_service = (
        select(OrderService.order_id)
        .where(
            OrderService.order_id == Order.order_id,
            OrderService.state == ServiceState.PENDING.value,
        )
        .exists()
    )
    return or_(
        and_(Order.state.in_(QUEUE_STATES), Order.state != OrderState.ORG_MAPPED.value),
        and_(Order.state == OrderState.ORG_MAPPED.value, pending_service),
    )


def _filtered(stmt: Select[Any], where: QueueFilter, now: datetime) -> Select[Any]:
    stmt = stmt.where(_needs_a_person())
    if where.states:
        stmt = stmt.where(Order.state.in_(where.states))
    if where.partner_id:
        stmt = stmt.where(Order.partner_id == where.partner_id)
    if where.country:
        stmt = stmt.where(Order.country == where.country.upper())
    if where.waiting_on == WaitingOn.CUSTOMER:
        stmt = stmt.where(_ON_CUSTOMER)
    elif where.waiting_on == WaitingOn.SUPPORT:
        stmt = stmt.where(~_ON_CUSTOMER)
    if where.service:
        stmt = stmt.where(
            select(OrderService.order_id)
            .where(OrderService.order_id == Order.order_id, OrderService.service == where.service)
            .exists()
        )
    if where.min_age_days is not None:
        stmt = stmt.where(Order.placed_at <= now - timedelta(days=where.min_age_days))
    if where.max_age_days is not None:  # in whole days, as the queue shows ages
        stmt = stmt.where(Order.placed_at > now - timedelta(days=where.max_age_days + 1))
    text = (where.search or "").strip()
    if text:
        like = f"%{text.lower()}%"
        mapped = aliased(Org)
        org_hit = (
            select(mapped.org_id)
            .where(
                mapped.org_id == Order.org_id,
                or_(
                    func.lower(mapped.org_id) == text.lower(),
                    mapped.name_key.like(f"%{name_key(text)}%"),
                ),
            )
            .exists()
        )
        stmt = stmt.where(
            or_(
                func.lower(Order.order_id) == text.lower(),
                Order.provisioning_email.like(like),
                func.lower(Order.company_name).like(like),
                func.lower(Order.org_id) == text.lower(),
                org_hit,
            )
        )
    return stmt


_REVIEW_RANK = case(
    (OrderMatch.review == "operator", 0),
    (OrderMatch.review == "confirm", 1),
    (OrderMatch.review.is_(None), 2),
    else_=3,
)


def queue(
    session: Session,
    where: QueueFilter = QueueFilter(),
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
) -> QueuePage:
    """One page of the queue, its total and the counts shown above it."""
    now = now or utcnow()
    partner, org, recommended = aliased(Org), aliased(Org), aliased(Org)
    stmt = _filtered(
        select(
            Order,
            partner.name,
            org.name,
            OrderMatch,
            recommended.name,
        )
        .outerjoin(partner, partner.org_id == Order.partner_id)
        .outerjoin(org, org.org_id == Order.org_id)
        .outerjoin(OrderMatch, OrderMatch.order_id == Order.order_id)
        .outerjoin(recommended, recommended.org_id == OrderMatch.recommended_org_id),
        where,
        now,
    )
    waiting = Order.state.in_(WAITING_FOR_ORG)
    order = [case((waiting, _REVIEW_RANK), else_=4)]
    if where.teaching_first:
        # (2.0: above any confidence, so unscored orders come after, on either database)
        scored = waiting & OrderMatch.confidence.is_not(None)
        order.append(case((scored, OrderMatch.confidence), else_=2.0))
    stmt = stmt.order_by(*order, Order.placed_at, Order.order_id)
    found = session.execute(stmt.limit(limit).offset(offset)).all()
    services = _services(session, [o.order_id for o, *_ in found])
    rows = [
        _row(order, partner_name, org_name, match, recommended_name, services, now)
        for order, partner_name, org_name, match, recommended_name in found
    ]
    return QueuePage(rows, _count_where(session, where, now), queue_counts(session, where, now))


def _row(
    order: Order,
    partner_name: str | None,
    org_name: str | None,
    match: OrderMatch | None,
    recommended_name: str | None,
    services: dict[str, tuple[str, ...]],
    now: datetime,
) -> QueueRow:
    scored = match is not None and order.state in WAITING_FOR_ORG
    return QueueRow(
        order_id=order.order_id,
        placed_at=order.placed_at,
        age_days=(now - order.placed_at).days,
        state=order.state,
        company_name=order.company_name,
        provisioning_email=order.provisioning_email,
        country=order.country,
        partner_id=order.partner_id,
        partner_name=partner_name,
        services=services.get(order.order_id, ()),
        outcome=match.outcome if scored else None,
        recommended_org_id=match.recommended_org_id if scored else None,
        recommended_org_name=recommended_name if scored else None,
        confidence=match.confidence if scored else None,
        review=match.review if scored else None,
        at_risk=order.at_risk,
        org_id=order.org_id,
        org_name=org_name,
        waiting_on=waiting_on(order.state).value,
    )


def _services(session: Session, order_ids: list[str]) -> dict[str, tuple[str, ...]]:
    if not order_ids:
        return {}
    found: dict[str, list[str]] = {}
    for order_id, service in session.execute(
        select(OrderService.order_id, OrderService.service)
        .where(OrderService.order_id.in_(order_ids))
        .order_by(OrderService.order_id, OrderService.service.desc())
    ):
        found.setdefault(order_id, []).append(service)
    return {k: tuple(v) for k, v in found.items()}


def _count_where(session: Session, where: QueueFilter, now: datetime) -> int:
    stmt = _filtered(select(func.count()).select_from(Order), where, now)
    return session.scalar(stmt) or 0


def queue_counts(
    session: Session,
    where: QueueFilter = QueueFilter(),
    now: datetime | None = None,
) -> dict[str, int]:
    """The tiles above the queue, in one grouped query."""
    now = now or utcnow()
    waiting = Order.state.in_(WAITING_FOR_ORG)

    stmt = _filtered(
        select(
            count_where(and_(waiting, OrderMatch.review == "operator")),
            count_where(and_(waiting, OrderMatch.review == "confirm")),
            count_where(and_(waiting, OrderMatch.review == "auto")),
            count_where(and_(waiting, OrderMatch.order_id.is_(None))),
            count_where(Order.state == OrderState.DELEGATED.value),
            count_where(Order.state == OrderState.AWAITING_APPROVAL.value),
            count_where(Order.state == OrderState.ORG_MAPPED.value),
            count_where(Order.at_risk.is_(True)),
            count_where(_ON_CUSTOMER),
            count_where(~_ON_CUSTOMER),
        )
        .select_from(Order)
        .outerjoin(OrderMatch, OrderMatch.order_id == Order.order_id),
        where,
        now,
    )
    values = [int(v) for v in session.execute(stmt).one()]
    keys = (
        "needs_operator",
        "needs_confirmation",
        "auto",
        "unscored",
        "delegated",
        "awaiting_approval",
        "setting_up",
        "at_risk",
        "waiting_on_customer",
        "waiting_on_support",
    )
    return dict(zip(keys, values, strict=True))


# --- for a viewer: the permission checked here, for the app, the CLI and the notebooks ---


@dataclass(frozen=True, slots=True)
class QueueChoices:
    """What the queue's filters offer: partners and countries that have open orders."""

    partners: dict[str, str]  # partner org id -> name
    countries: tuple[str, ...]


def queue_for(
    db: Database,
    viewer: Actor,
    where: QueueFilter = QueueFilter(),
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
) -> QueuePage:
    """`queue` as `viewer` may see it: refused without READ_ORDERS; a partner admin's own
    customers' orders only."""
    with reading(db, viewer, Permission.READ_ORDERS) as session:
        return queue(session, where, limit=limit, offset=offset, now=now)


def choices_for(db: Database, viewer: Actor) -> QueueChoices:
    """The queue's filter values among the orders `viewer` may see."""
    from provisioning.reports import backlog

    with reading(db, viewer, Permission.READ_ORDERS) as session:
        partners = {
            row["key"]: row["label"] or row["key"]
            for row in backlog.breakdown(session, "partner")
            if row["key"]
        }
        countries = sorted({row["key"] for row in backlog.breakdown(session, "country")} - {None})
    return QueueChoices(dict(sorted(partners.items(), key=lambda kv: kv[1])), tuple(countries))
