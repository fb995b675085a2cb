"""Blind review: for a fixed sample of orders the operator picks the org *before* seeing
the model's pick. Comparing the two on those orders measures the model without the
operator's anchoring on its recommendation, and measures the operators too.

The sample is a hash of the order id, so every operator and every process agrees on it
without storing anything.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from provisioning import audit, finder
from provisioning.access import Actor, Permission, authorize, reading
from provisioning.db import Database, conflict_insert
from provisioning.errors import FieldError, InvalidInput
from provisioning.models import BlindReview, Order, Org
from provisioning.models.base import utcnow
from provisioning.orders.workflow import Action
from provisioning.states import OrderState

BLIND_SHARE = 0.10


def is_blind(order_id: str, share: float = BLIND_SHARE) -> bool:
    """Is this order in the blind-review sample? Stable across processes and sessions."""
    digest = hashlib.sha256(order_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


def has_review(session: Session, order_id: str, reviewer: str) -> bool:
    return (
        session.scalar(
            select(BlindReview.id).where(
                BlindReview.order_id == order_id, BlindReview.reviewer == reviewer
            )
        )
        is not None
    )


def record(
    db: Database,
    order_id: str,
    actor: Actor,
    chosen_org_id: str | None,
    now: datetime | None = None,
) -> bool:
    """Keep the operator's blind pick (None: a new org) beside the model's current one.
    Returns False when this operator already recorded one for the order (first pick
    counts: a second look is no longer blind)."""
    actor, now = authorize(actor, Permission.BLIND_REVIEW), now or utcnow()
    result = finder.match_one(db, order_id, now)  # refuses decided or unknown orders
    with db.write() as session:
        if chosen_org_id is not None and session.get(Org, chosen_org_id) is None:
            raise InvalidInput(FieldError("org", "no such organization", value=chosen_org_id))
        version = str(finder.active_model(session).version)
        inserted = session.execute(
            conflict_insert(session, BlindReview.__table__)
            .values(
                order_id=order_id,
                reviewer=actor.email,
                chosen_org_id=chosen_org_id,
                model_org_id=result.recommended_org_id,
                model_version=version,
                model_confidence=result.confidence,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["order_id", "reviewer"])
            .returning(BlindReview.__table__.c.id)
        ).scalar()
        if inserted is None:
            return False
        after = {"chosen_org_id": chosen_org_id, "model_version": version}
        session.add(
            audit.event(actor, Action.BLIND_REVIEW.value, "order", order_id, None, after, now)
        )
    return True


def agreement(session: Session) -> dict[str, Any]:
    """How blind picks compare with the model's and, once decided, with the final org.

    `model_agreed`: share of blind reviews where the model picked what the operator
    picked unseen. On decided orders, `operator_accuracy` / `model_accuracy` compare each
    with the org the order finally got, and `operators_overridden` counts the orders
    whose final org differs from the operator's own blind pick.
    """
    rows = session.execute(
        select(
            BlindReview.chosen_org_id,
            BlindReview.model_org_id,
            Order.org_id,
            Order.new_org,
            Order.decision,
            Order.state,
        ).join(Order, Order.order_id == BlindReview.order_id)
    ).all()
    reviews = len(rows)
    agreed = sum(chosen == model for chosen, model, *_ in rows)
    decided = [
        (chosen, model, None if new_org else org_id)
        for chosen, model, org_id, new_org, decision, state in rows
        if decision is not None and state != OrderState.HISTORY
    ]
    return {
        "reviews": reviews,
        "reviewers": session.scalar(select(func.count(func.distinct(BlindReview.reviewer)))) or 0,
        "model_agreed": agreed / reviews if reviews else None,
        "decided": len(decided),
        "operator_accuracy": (
            sum(chosen == final for chosen, _, final in decided) / len(decided) if decided else None
        ),
        "model_accuracy": (
            sum(model == final for _, model, final in decided) / len(decided) if decided else None
        ),
        "operators_overridden": sum(chosen != final for chosen, _, final in decided),
    }


def pick_made_for(db: Database, viewer: Actor, order_id: str) -> bool:
    """Has `viewer` made their blind pick for the order (so the model's may show)?"""
    with reading(db, viewer, Permission.READ_ORDERS) as session:
        return has_review(session, order_id, viewer.email)


def agreement_for(db: Database, viewer: Actor) -> dict[str, Any]:
    """`agreement`, for a viewer who may read the models."""
    with reading(db, viewer, Permission.READ_MODELS) as session:
        return agreement(session)
