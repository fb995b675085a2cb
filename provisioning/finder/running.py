"""Running the organization finder: the finder's view of an order, one order or every
waiting one ranked by the active model, and the decided history as labelled orders.

Matching only reads. `match_all` ranks in bounded batches with one prefetching query per
kind of look-up, two batches in flight.
"""

from __future__ import annotations

import gc
import itertools
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, object_session

from matching.candidates import (
    DOMAIN_LIMIT,
    NAME_LIMIT,
    PARTNER_LIMIT,
    CandidateSet,
    OrderQuery,
    find_candidates_of,
)
from matching.evaluation import (
    LabelledOrder,
)
from matching.matcher import MatchResult, match_order, match_orders
from matching.scorer import Model
from provisioning.db import Database
from provisioning.errors import Conflict, NotFound
from provisioning.finder.active import active_model
from provisioning.finder.source import PrefetchingSource, SqlCandidateSource
from provisioning.models import Order, OrderLine
from provisioning.models.base import utcnow
from provisioning.states import Decision, OrderState

MATCH_BATCH = 500
_IN_FLIGHT = 2  # batches ranked at once by `match_all` (one per core here)


# Does a line of the order convert a running trial (the guard rails and features ask)?
_CONVERTS_TRIAL = (
    exists()
    .where(OrderLine.order_id == Order.order_id, OrderLine.is_trial_conversion.is_(True))
    .correlate(Order)
)


def order_query(order: Order, converts_trial: bool | None = None) -> OrderQuery:
    """What the finder knows of `order`; `converts_trial` is read from its lines unless
    the caller read it already (for a batch, `trial_conversions`)."""
    if converts_trial is None:
        session = object_session(order)
        converts_trial = bool(
            session is not None
            and session.scalar(select(_CONVERTS_TRIAL).where(Order.order_id == order.order_id))
        )
    return OrderQuery(
        order.order_id,
        order.provisioning_email,
        order.company_name,
        order.country,
        order.partner_id,
        converts_trial,
    )


def trial_conversions(session: Session, order_ids: Sequence[str]) -> set[str]:
    """Which of `order_ids` have a line converting a trial, in one query."""
    return set(
        session.scalars(
            select(OrderLine.order_id).where(
                OrderLine.order_id.in_(order_ids), OrderLine.is_trial_conversion.is_(True)
            )
        )
    )


# `order_query`'s fields as plain rows, for `match_all`: loading ORM objects cost more
# than matching them.
_ORDER_QUERIES = select(
    Order.order_id,
    Order.provisioning_email,
    Order.company_name,
    Order.country,
    Order.partner_id,
    _CONVERTS_TRIAL,
)


def match_one(db: Database, order_id: str, now: datetime | None = None) -> MatchResult:
    """Rank the candidates of one order that still awaits its org."""
    now = now or utcnow()
    with db.read() as session:
        order = session.get(Order, order_id)
        if order is None:
            raise NotFound(f"order {order_id!r} does not exist")
        if not OrderState(order.state).awaits_org:
            raise Conflict(f"order {order_id} is already decided ({order.state})")
        active = active_model(session)
        return match_order(order_query(order), SqlCandidateSource(session), active.model, now)


def match_all(db: Database, now: datetime | None = None) -> Iterator[MatchResult]:
    """Every order awaiting an org, oldest first, streamed in batches.

    The waiting orders' ids are read once, in order (a few MB for 100k orders; orgs are
    never loaded wholesale). Batches are ranked by two threads, each on its own
    connection, while the results are handed out in order: one thread's queries wait on
    the database (PostgreSQL, or SQLite outside the GIL) while the other ranks in Python.
    At most `_IN_FLIGHT` batches are held, so memory stays bounded.
    """
    now = now or utcnow()
    waiting = [s.value for s in OrderState if s.awaits_org]
    with db.read() as session:
        model = active_model(session).model
        order_ids = session.scalars(
            select(Order.order_id)
            .where(Order.state.in_(waiting))
            .order_by(Order.placed_at, Order.order_id)
        ).all()
    batches = (order_ids[i : i + MATCH_BATCH] for i in range(0, len(order_ids), MATCH_BATCH))
    with ThreadPoolExecutor(_IN_FLIGHT, thread_name_prefix="match") as pool, _fewer_collections():
        pending: deque[Future[list[MatchResult]]] = deque()
        for ids in itertools.chain(batches, [None] * _IN_FLIGHT):
            if ids is not None:
                pending.append(pool.submit(_match_batch, db, ids, model, now))
            if len(pending) == _IN_FLIGHT or (ids is None and pending):
                yield from pending.popleft().result()


def _match_batch(db: Database, ids: list[str], model: Model, now: datetime) -> list[MatchResult]:
    """One batch of waiting orders, loaded by primary key and ranked with its own prefetch
    (a handful of queries for the batch instead of several per order)."""
    with db.read() as session:
        loaded = {
            row.order_id: OrderQuery(*row)
            for row in session.execute(_ORDER_QUERIES.where(Order.order_id.in_(ids))).all()
        }
        queries = [loaded[i] for i in ids if i in loaded]
        source = PrefetchingSource(session)
        source.prefetch(queries, DOMAIN_LIMIT, NAME_LIMIT, PARTNER_LIMIT)
        return match_orders(queries, source, model, now)


@contextmanager
def _fewer_collections(first_generation: int = 50_000) -> Iterator[None]:
    """A batch keeps tens of thousands of small objects alive until it is ranked; at the
    default threshold (700 allocations) the cyclic collector rescans them hundreds of times
    per batch. Its garbage is freed by reference counting anyway, so collect less often
    while ranking (measured on 1M orgs: match --all 1,575 -> 2,000+ orders/s on SQLite)."""
    previous = gc.get_threshold()
    gc.set_threshold(max(first_generation, previous[0]), *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)


def candidate_sets(
    session: Session, decided_only: bool = True
) -> Iterator[tuple[Order, CandidateSet]]:
    """Orders (the decided ones, or all) with their candidates as the finder finds them
    now, read a batch at a time through `PrefetchingSource` (a handful of queries per
    batch instead of several per order).

    An org created *for* an order did not exist when the order was decided: it is not
    one of that order's candidates.
    """
    after: str | None = None
    while True:
        query = select(Order)
        if decided_only:
            query = query.where(Order.decision.is_not(None))
        if after is not None:
            query = query.where(Order.order_id > after)
        batch = session.scalars(query.order_by(Order.order_id).limit(MATCH_BATCH)).all()
        if not batch:
            return
        converting = trial_conversions(session, [order.order_id for order in batch])
        queries = [order_query(order, order.order_id in converting) for order in batch]
        source = PrefetchingSource(session)
        source.prefetch(queries, DOMAIN_LIMIT, NAME_LIMIT, PARTNER_LIMIT)
        for order, found in zip(batch, find_candidates_of(queries, source), strict=True):
            if created_for(order) and order.org_id:
                found.candidates = [c for c in found.candidates if c.org_id != order.org_id]
            yield order, found
        after = batch[-1].order_id
        session.expunge_all()


def created_for(order: Order) -> bool:
    """Was a new org created for this order (the history's "new org" examples)?"""
    return bool(order.new_org) or order.decision == Decision.CREATED_ORG


def labelled_orders(session: Session, now: datetime) -> list[LabelledOrder]:
    """Every decided order as a training example, candidates generated as of `now`."""
    return [
        LabelledOrder(found, None if created_for(order) else order.org_id, now)
        for order, found in candidate_sets(session)
    ]
