"""The onboarding backlog for managers: what is waiting, for how long, and the trend.

Every figure is aggregated in SQL (GROUP BY over indexed columns), never by loading the
orders: the backlog page and the analysts' notebook read 100k orders as quickly as 100.
Bucket boundaries (age bands, weeks) are computed in Python and bound as parameters, so
the same statements run on SQLite and PostgreSQL. Which orders are open, deferred, stale,
past the SLA or at risk is said once, in `definitions`, for the notebooks' tables too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, exists, func, literal, select
from sqlalchemy.orm import Session, aliased

from provisioning import i18n
from provisioning.access import Actor, Permission, reading
from provisioning.db import Database, count_where
from provisioning.models import Order, OrderService, Org
from provisioning.models.base import utcnow
from provisioning.reports.definitions import (
    OPEN_STATES,
    days_since,
    has_service_in,
    is_at_risk,
    is_open,
    is_past_sla,
    is_stale,
    partner_key,
)
from provisioning.states import WAITING_ON_CUSTOMER, Decision, OrderState, ServiceState

# Age bands of open orders, in days since they were placed (the last one is open-ended).
AGE_BANDS: tuple[tuple[int, int | None], ...] = (
    (0, 2),
    (2, 7),
    (7, 14),
    (14, 30),
    (30, 60),
    (60, None),
)


@dataclass(frozen=True, slots=True)
class BacklogFilter:
    """Narrows every backlog figure the same way (the page's filters, a drill-down)."""

    partner_id: str | None = None
    service: str | None = None  # "meetings" | "calling": orders having that service
    country: str | None = None
    states: tuple[str, ...] = ()

    def apply(self, stmt: Select[Any]) -> Select[Any]:
        if self.partner_id:
            stmt = stmt.where(Order.partner_id == self.partner_id)
        if self.country:
            stmt = stmt.where(Order.country == self.country)
        if self.states:
            stmt = stmt.where(Order.state.in_(self.states))
        if self.service:
            # An alias: the service breakdown joins `order_services` itself, and the
            # subquery must not correlate to that join.
            having = aliased(OrderService)
            stmt = stmt.where(
                exists().where(having.order_id == Order.order_id, having.service == self.service)
            )
        return stmt


@dataclass(frozen=True, slots=True)
class BacklogCounts:
    """The headline numbers of the backlog."""

    open: int
    pending: int  # waiting for the intent, the org or an approval
    delegated: int
    setting_up: int  # mapped, some service still pending
    configure_later: int  # mapped orders with a service left for later
    customer_self_setup: int  # mapped orders whose customer sets a service up
    at_risk: int
    past_sla: int  # open and older than the SLA
    expired: int
    complete: int
    by_state: dict[str, int] = field(default_factory=dict)

    @property
    def waiting_on_customer(self) -> int:
        """Orders waiting for someone the desk e-mailed a link (`WAITING_ON_CUSTOMER`)."""
        return sum(self.by_state.get(s, 0) for s in WAITING_ON_CUSTOMER)

    @property
    def waiting_on_support(self) -> int:
        """Orders whose next move is support's: an org to decide, services to set up."""
        return self.by_state.get(OrderState.AWAITING_ORG, 0) + self.setting_up


def counts(
    session: Session,
    sla_days: int,
    now: datetime | None = None,
    where: BacklogFilter = BacklogFilter(),
) -> BacklogCounts:
    """Orders per state and the backlog's headline numbers, in two grouped queries."""
    now = now or utcnow()
    by_state = {
        state: count
        for state, count in session.execute(
            where.apply(select(Order.state, func.count()).group_by(Order.state))
        )
    }
    mapped = Order.state == OrderState.ORG_MAPPED.value

    row = session.execute(
        where.apply(
            select(
                count_where(and_(mapped, has_service_in(ServiceState.PENDING))),
                count_where(and_(mapped, has_service_in(ServiceState.CONFIGURE_LATER))),
                count_where(and_(mapped, has_service_in(ServiceState.CUSTOMER_SELF_SETUP))),
                count_where(is_at_risk()),
                count_where(is_past_sla(now, sla_days)),
            ).select_from(Order)
        )
    ).one()
    pending = sum(
        by_state.get(s, 0)
        for s in (
            OrderState.AWAITING_INTENT,
            OrderState.AWAITING_ORG,
            OrderState.AWAITING_APPROVAL,
        )
    )
    return BacklogCounts(
        open=sum(by_state.get(s, 0) for s in OPEN_STATES),
        pending=pending,
        delegated=by_state.get(OrderState.DELEGATED, 0),
        setting_up=int(row[0]),
        configure_later=int(row[1]),
        customer_self_setup=int(row[2]),
        at_risk=int(row[3]),
        past_sla=int(row[4]),
        expired=by_state.get(OrderState.EXPIRED, 0),
        complete=by_state.get(OrderState.COMPLETE, 0),
        by_state=dict(sorted(by_state.items())),
    )


def _band_label(low: int, high: int | None) -> str:
    return f"{low}+ days" if high is None else f"{low}–{high} days"


def age_distribution(
    session: Session,
    now: datetime | None = None,
    where: BacklogFilter = BacklogFilter(),
) -> list[dict[str, Any]]:
    """Open orders per age band (days since placed) and state: rows of
    `band`, `low_days`, `state`, `orders`, bands youngest first."""
    now = now or utcnow()
    band = case(
        *[
            (Order.placed_at > now - timedelta(days=high), literal(i))
            for i, (_low, high) in enumerate(AGE_BANDS)
            if high is not None
        ],
        else_=literal(len(AGE_BANDS) - 1),
    ).label("band")
    stmt = where.apply(
        select(band, Order.state, func.count()).where(is_open()).group_by(band, Order.state)
    )
    rows = []
    for index, state, count in session.execute(stmt):
        low, high = AGE_BANDS[int(index)]
        rows.append(
            {"band": _band_label(low, high), "low_days": low, "state": state, "orders": count}
        )
    return sorted(rows, key=lambda r: (r["low_days"], r["state"]))


def age_percentiles(
    session: Session,
    now: datetime | None = None,
    where: BacklogFilter = BacklogFilter(),
) -> dict[str, float | None]:
    """Median and oldest age (days) of open orders, from two ordered index reads."""
    now = now or utcnow()
    base = where.apply(select(Order.placed_at).where(is_open()))
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    if not total:
        return {"open": 0, "median_days": None, "oldest_days": None}
    ordered = base.order_by(Order.placed_at.desc())
    median_at = session.scalar(ordered.offset(total // 2).limit(1))
    oldest_at = session.scalar(base.order_by(Order.placed_at).limit(1))
    return {
        "open": total,
        "median_days": days_since(now, median_at),
        "oldest_days": days_since(now, oldest_at),
    }


def weekly_trend(
    session: Session,
    weeks: int = 12,
    now: datetime | None = None,
    where: BacklogFilter = BacklogFilter(),
) -> list[dict[str, Any]]:
    """Orders opened (placed) and completed per week, the last `weeks` weeks, oldest
    first: rows of `week` (its Monday, UTC), `opened`, `completed`."""
    starts = week_starts(weeks, now or utcnow())

    def per_week(column: Any, condition: Any) -> dict[int, int]:
        week = _week_of(column, starts)
        stmt = where.apply(
            select(week, func.count()).where(condition, column >= starts[0]).group_by(week)
        )
        return {int(i): n for i, n in session.execute(stmt)}

    opened = per_week(Order.placed_at, Order.state != OrderState.HISTORY.value)
    completed = per_week(Order.state_changed_at, Order.state == OrderState.COMPLETE.value)
    return [
        {"week": start, "opened": opened.get(i, 0), "completed": completed.get(i, 0)}
        for i, start in enumerate(starts)
    ]


def week_starts(weeks: int, now: datetime) -> list[datetime]:
    """The Mondays (00:00 UTC) of the last `weeks` weeks, this one last."""
    this_monday = (now - timedelta(days=now.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return [this_monday - timedelta(weeks=w) for w in range(weeks - 1, -1, -1)]


def _week_of(column: Any, starts: list[datetime]) -> Any:
    """The index in `starts` of the week `column` falls in (-1: before the first)."""
    return case(
        *[(column >= start, literal(i)) for i, start in reversed(list(enumerate(starts)))],
        else_=literal(-1),
    ).label("week")


@dataclass(frozen=True, slots=True)
class ModelWork:
    """Decisions of the last weeks by what the finder had answered (its recorded
    `Order.recommended_review`): `auto`, the confident answers, is the work the model took
    off operators (they only had to look); `unrecorded`, decisions that kept no answer
    (taken before answers were recorded). Imported history is not a decision of the desk."""

    weeks: list[dict[str, Any]]  # week (its Monday), auto, confirm, operator, unrecorded
    auto: int
    confirm: int
    operator: int
    unrecorded: int

    @property
    def answered(self) -> int:
        return self.auto + self.confirm + self.operator

    def share(self, orders: int) -> float | None:
        return orders / self.answered if self.answered else None


def model_work(
    session: Session,
    weeks: int = 12,
    now: datetime | None = None,
    where: BacklogFilter = BacklogFilter(),
) -> ModelWork:
    """Orders decided per week over the last `weeks` weeks, by the band the finder's
    answer was in when the operator decided: one grouped query."""
    starts = week_starts(weeks, now or utcnow())
    week = _week_of(Order.decided_at, starts)
    band = func.coalesce(Order.recommended_review, literal("")).label("band")
    stmt = where.apply(
        select(week, band, func.count())
        .where(
            Order.decided_at >= starts[0],
            Order.decision.is_not(None),
            Order.decision != Decision.IMPORTED.value,
        )
        .group_by(week, band)
    )
    counts = {(int(i), b or "unrecorded"): n for i, b, n in session.execute(stmt)}
    bands = ("auto", "confirm", "operator", "unrecorded")
    rows = [
        {"week": start, **{b: counts.get((i, b), 0) for b in bands}}
        for i, start in enumerate(starts)
    ]
    totals = {b: sum(row[b] for row in rows) for b in bands}
    return ModelWork(rows, **totals)


def breakdown(
    session: Session,
    by: str,
    where: BacklogFilter = BacklogFilter(),
) -> list[dict[str, Any]]:
    """Open orders per partner, service or country, and per state: rows of `key`,
    `label`, `state`, `orders` (most orders first)."""
    if by == "partner":
        partner = Org.__table__.alias("partner")
        key = partner_key()
        stmt = (
            select(key, partner.c.name, Order.state, func.count())
            .outerjoin(partner, partner.c.org_id == Order.partner_id)
            .group_by(key, partner.c.name, Order.state)
        )
    elif by == "country":
        key = func.coalesce(Order.country, literal(""))
        stmt = select(key, key, Order.state, func.count()).group_by(key, Order.state)
    elif by == "service":
        stmt = (
            select(OrderService.service, OrderService.state, Order.state, func.count())
            .join(OrderService, OrderService.order_id == Order.order_id)
            .group_by(OrderService.service, OrderService.state, Order.state)
        )
    else:
        raise ValueError(f"unknown breakdown {by!r}: partner, service or country")
    stmt = where.apply(stmt.where(is_open()))
    rows = [
        {"key": k or None, "label": label or k or None, "state": state, "orders": n}
        for k, label, state, n in session.execute(stmt)
    ]
    totals: dict[Any, int] = {}
    for row in rows:
        totals[row["key"]] = totals.get(row["key"], 0) + row["orders"]
    return sorted(rows, key=lambda r: (-totals[r["key"]], str(r["key"]), r["state"]))


def stale_orders(
    session: Session,
    older_than_days: int,
    now: datetime | None = None,
    where: BacklogFilter = BacklogFilter(),
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Delegated orders and orders with a service left for later (or for the customer)
    that nobody has touched for `older_than_days`: the ones to chase (`is_stale`)."""
    now = now or utcnow()
    partner = Org.__table__.alias("partner")
    stmt = where.apply(
        select(
            Order.order_id,
            Order.state,
            Order.company_name,
            Order.partner_id,
            partner.c.name.label("partner_name"),
            Order.delegate_email,
            Order.placed_at,
            Order.state_changed_at,
            Order.at_risk,
        )
        .outerjoin(partner, partner.c.org_id == Order.partner_id)
        .where(is_stale(now, older_than_days))
        .order_by(Order.state_changed_at, Order.order_id)
        .limit(limit)
    )
    rows = []
    for row in session.execute(stmt):
        item = dict(row._mapping)
        item["idle_days"] = (now - item["state_changed_at"]).days
        rows.append(item)
    return rows


# --- the page, for a viewer: the permission checked here ----------------------------


@dataclass(frozen=True, slots=True)
class BacklogView:
    """Every figure of the backlog page, under one filter, read in one session."""

    counts: BacklogCounts
    ages: list[dict[str, Any]]
    age_summary: dict[str, float | None]
    trend: list[dict[str, Any]]
    by_partner: list[dict[str, Any]]
    by_service: list[dict[str, Any]]
    by_country: list[dict[str, Any]]
    stale: list[dict[str, Any]]
    model_work: ModelWork  # decisions per week by the finder's recorded answer


@dataclass(frozen=True, slots=True)
class BacklogChoices:
    partners: dict[str, str]  # partner org id -> name, partners with open orders
    countries: list[str]  # ISO codes of countries with open orders
    services: tuple[str, ...] = tuple(i18n.SERVICES)


def view_for(
    db: Database,
    viewer: Actor,
    sla_days: int,
    idle_days: int,
    where: BacklogFilter = BacklogFilter(),
    trend_weeks: int = 12,
    now: datetime | None = None,
) -> BacklogView:
    """Every figure of the backlog page for `viewer` (READ_BACKLOG; a partner admin's
    own), read in one session."""
    now = now or utcnow()
    with reading(db, viewer, Permission.READ_BACKLOG) as session:
        return BacklogView(
            counts=counts(session, sla_days, now, where),
            ages=age_distribution(session, now, where),
            age_summary=age_percentiles(session, now, where),
            trend=weekly_trend(session, trend_weeks, now, where),
            by_partner=breakdown(session, "partner", where),
            by_service=_by_service(session, where),
            by_country=breakdown(session, "country", where),
            stale=stale_orders(session, idle_days, now, where),
            model_work=model_work(session, trend_weeks, now, where),
        )


def _by_service(session: Session, where: BacklogFilter) -> list[dict[str, Any]]:
    """Under a service filter, the chart shows that service alone (not the other services
    of the orders that have it)."""
    rows = breakdown(session, "service", where)
    return [row for row in rows if not where.service or row["key"] == where.service]


def choices_for(db: Database, viewer: Actor) -> BacklogChoices:
    """Filter values that have open orders behind them (an empty choice helps nobody)."""
    with reading(db, viewer, Permission.READ_BACKLOG) as session:
        partners = breakdown(session, "partner")
        countries = breakdown(session, "country")
    return BacklogChoices(
        partners={r["key"]: r["label"] for r in partners if r["key"]},
        countries=sorted({r["key"] for r in countries if r["key"]}),
    )
