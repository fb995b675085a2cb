"""The finder's stored answers: each waiting order's ranking by the active model, kept in
`order_matches` so the operators' queue is one SQL query (`provisioning.orders.queue`).

Scored after imports, by `onboard match --all --save` and from the queue page; every
store is audited (who scored how many orders with which model version) and forgets the
answers of orders that have left the finder.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select

from matching.matcher import MatchResult
from provisioning import audit
from provisioning.access import Actor, Permission, authorize
from provisioning.db import Database, conflict_insert
from provisioning.finder.active import active_model
from provisioning.finder.running import match_all
from provisioning.models import Order, OrderMatch
from provisioning.models.base import utcnow
from provisioning.orders.queue import WAITING_FOR_ORG

SCORER = "system:finder"  # who scored when nobody did by hand (the demo, after an import)


def refresh_matches(
    db: Database,
    now: datetime | None = None,
    order_ids: list[str] | None = None,
    only_missing: bool = True,
    *,
    actor: Actor | str = SCORER,
) -> int:
    """Rank the orders awaiting their org with the active model and keep the answers.

    `only_missing` skips orders already scored by the active model; after a new model
    is activated every order is scored again. Returns how many were (re)scored.
    """
    now = now or utcnow()
    with db.read() as session:
        version = str(active_model(session).version)
        current = set(
            session.scalars(select(OrderMatch.order_id).where(OrderMatch.model_version == version))
        )
    wanted = set(order_ids) if order_ids is not None else None
    results = [
        result
        for result in match_all(db, now)
        if (wanted is None or result.order_id in wanted)
        and not (only_missing and result.order_id in current)
    ]
    store_matches(db, results, version, now, actor=actor)
    return len(results)


def score_waiting(db: Database, actor: Actor, now: datetime | None = None) -> int:
    """The queue's "Score waiting orders": `refresh_matches` for someone allowed to run
    the finder over every waiting order (not a partner admin: it ranks every partner's)."""
    authorize(actor, Permission.RUN_FINDER)
    return refresh_matches(db, now, actor=actor)


def store_matches(
    db: Database,
    results: Sequence[MatchResult],
    version: str,
    now: datetime | None = None,
    *,
    actor: Actor | str = SCORER,
) -> None:
    """Keep the finder's answers (`onboard match --all --save`, `refresh_matches`), and
    forget those of orders that have left the finder since; audited (who scored how many
    orders with which model version). A person must be allowed to run the finder."""
    if isinstance(actor, Actor):
        authorize(actor, Permission.RUN_FINDER)
    now = now or utcnow()
    rows = [
        {
            "order_id": result.order_id,
            "model_version": version,
            "outcome": result.outcome.value,
            "recommended_org_id": result.recommended_org_id,
            "confidence": result.confidence,
            "p_new_org": result.ranking.p_none,
            "review": result.review.value,
            "candidates": len(result.ranking.ranked),
            "computed_at": now,
        }
        for result in results
    ]
    with db.write() as session:
        for start in range(0, len(rows), 1000):
            insert = conflict_insert(session, OrderMatch.__table__)
            statement = insert.on_conflict_do_update(
                index_elements=["order_id"],
                set_={
                    column: insert.excluded[column] for column in rows[0] if column != "order_id"
                },
            )
            session.execute(statement, rows[start : start + 1000])
        if rows:
            session.add(
                audit.event(
                    actor,
                    "finder.scored",
                    "model_version",
                    version,
                    None,
                    {"orders": len(rows)},
                    now,
                )
            )
        session.execute(
            delete(OrderMatch).where(
                OrderMatch.order_id.in_(
                    select(Order.order_id).where(Order.state.not_in(WAITING_FOR_ORG))
                )
            )
        )
