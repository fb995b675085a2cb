"""Partner scoping: a partner admin's sessions see only its own customers' records.

Every ORM query run in a scoped session gets `with_loader_criteria` for each table that
belongs to a customer (orders and what hangs off them, orgs and their domains and members,
audit events of those orders), so a read function written without thinking of partners
still returns nothing of another partner's — through a list, a search, a count or a CSV.
Core statements on a bare connection bypass this; the service layer does not use them for
anything a partner can reach, and `tests/integration/test_access.py` checks every read as
partner A for partner B's records.

Meetings site names are the exception on purpose: a site URL is global in Webex, so the
"is this name taken?" check must see every site (it answers yes/no, never whose).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import ColumnElement, Select, and_, event, false, or_, select
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from provisioning.access.actor import Actor
from provisioning.access.permissions import Permission, authorize
from provisioning.db import Database
from provisioning.models import (
    Account,
    AuditEvent,
    BlindReview,
    CallingLocation,
    Member,
    ModelVersion,
    Order,
    OrderLine,
    OrderMatch,
    OrderService,
    Org,
    OrgApproval,
    OrgDomain,
    OutboxEmail,
    PartnerAccess,
)

SCOPE_KEY = "partner_scope"
ORDER_SCOPE_KEY = "order_scope"  # a link actor's one order

_BY_ORDER = (OrderLine, OrderService, OrderMatch, BlindReview, OrgApproval, CallingLocation)
_BY_ORG = (OrgDomain, Member)
_NEVER = (ModelVersion, Account)


def partner_orders(partner_id: str) -> Select[tuple[str]]:
    """Ids of the orders the partner placed."""
    return select(Order.order_id).where(Order.partner_id == partner_id)


def mapped_orgs(partner_id: str) -> Select[tuple[str | None]]:
    """Ids of the orgs the partner's orders were mapped to."""
    return select(Order.org_id).where(Order.partner_id == partner_id, Order.org_id.is_not(None))


def partner_orgs(partner_id: str) -> ColumnElement[bool]:
    """Orgs the partner manages, or that one of its orders was mapped to."""
    return or_(Org.partner_id == partner_id, Org.org_id.in_(mapped_orgs(partner_id)))


def limit_to(session: Session, actor: Actor) -> Session:
    """Scope every later query of `session` to the actor's partner, or to the one order a
    link actor is bound to (no-op for others)."""
    if actor.partner_id is not None:
        session.info[SCOPE_KEY] = actor.partner_id
    if actor.order_id is not None:
        session.info[ORDER_SCOPE_KEY] = actor.order_id
    return session


@contextmanager
def reading(db: Database, viewer: Actor, permission: Permission) -> Iterator[Session]:
    """A read session for `viewer`: refused without `permission`, scoped to its partner."""
    authorize(viewer, permission)
    with db.read() as session:
        yield limit_to(session, viewer)


def visible_org_ids(session: Session, actor: Actor, org_ids: set[str]) -> set[str]:
    """The subset of `org_ids` the actor may see (all of them when it is not a partner)."""
    if actor.partner_id is None or not org_ids:
        return set(org_ids)
    rows = session.scalars(select(Org.org_id).where(Org.org_id.in_(org_ids)))
    return set(rows)


def _criteria(partner_id: str) -> list[object]:
    orders = partner_orders(partner_id)
    visible = select(Org.org_id).where(partner_orgs(partner_id))
    mapped = mapped_orgs(partner_id)  # a closure value the Org lambda below can use
    options: list[object] = [
        # Lambdas: only a lambda's criteria are adapted to an aliased Order or Org (a
        # query joining the partner's and the customer's org aliases `orgs` twice).
        with_loader_criteria(
            Order, lambda order: order.partner_id == partner_id, include_aliases=True
        ),
        with_loader_criteria(
            Org,
            lambda org: or_(org.partner_id == partner_id, org.org_id.in_(mapped)),
            include_aliases=True,
        ),
        with_loader_criteria(PartnerAccess, PartnerAccess.partner_id == partner_id),
        with_loader_criteria(OutboxEmail, OutboxEmail.order_id.in_(orders)),
        with_loader_criteria(
            AuditEvent,
            and_(AuditEvent.entity_type == "order", AuditEvent.entity_id.in_(orders)),
        ),
    ]
    options += [with_loader_criteria(m, m.order_id.in_(orders)) for m in _BY_ORDER]
    options += [with_loader_criteria(m, m.org_id.in_(visible)) for m in _BY_ORG]
    options += [with_loader_criteria(m, false()) for m in _NEVER]
    return options


def _order_criteria(order_id: str) -> list[object]:
    """A link actor's session: its one order and what hangs off it. Organizations stay
    searchable (the finder runs for the person), but the pages built on this session show
    a customer only names, domains, counts and dates; accounts are never visible."""
    options: list[object] = [
        with_loader_criteria(Order, lambda order: order.order_id == order_id, include_aliases=True),
        with_loader_criteria(OutboxEmail, OutboxEmail.order_id == order_id),
        with_loader_criteria(
            AuditEvent, and_(AuditEvent.entity_type == "order", AuditEvent.entity_id == order_id)
        ),
        with_loader_criteria(Account, false()),
    ]
    options += [with_loader_criteria(m, m.order_id == order_id) for m in _BY_ORDER]
    return options


@event.listens_for(Session, "do_orm_execute")
def _limit_to_partner(state: ORMExecuteState) -> None:
    if not state.is_select or state.is_column_load or state.is_relationship_load:
        return  # the criteria already travel with the parent query's options
    partner_id = state.session.info.get(SCOPE_KEY)
    if partner_id is not None:
        state.statement = state.statement.options(*_criteria(partner_id))
    order_id = state.session.info.get(ORDER_SCOPE_KEY)
    if order_id is not None:
        state.statement = state.statement.options(*_order_criteria(order_id))
