"""The organization finder as a service: match orders, train and evaluate scorer versions.

Matching reads; training writes one `ModelVersion` (and an audit event) in one
transaction. The active version is the newest one marked active; with none, the model
that ships with the project is used, so a fresh install matches out of the box.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from matching import persistence
from matching.candidates import DOMAIN_LIMIT, NAME_LIMIT, OrderQuery, find_candidates
from matching.evaluation import (
    LabelledOrder,
    coverage_curve,
    metrics,
    model_finder,
    old_wizard_rule,
    predict_all,
    rule_of_thumb,
    threshold_effect,
)
from matching.matcher import MatchResult, match_order
from matching.scorer import Model, Thresholds
from matching.training import TrainingResult, fit
from provisioning.db import Database
from provisioning.errors import Conflict, FieldError, InvalidInput, NotFound
from provisioning.finder_source import PrefetchingSource, SqlCandidateSource
from provisioning.models import AuditEvent, ModelVersion, Order
from provisioning.models.base import utcnow
from provisioning.states import Decision, OrderState

DEFAULT_VERSION = "default"
MATCH_BATCH = 500
# A new version must not lose more accuracy than this to be activated without --force.
ACTIVATION_TOLERANCE = 0.005


@dataclass(frozen=True, slots=True)
class ActiveModel:
    model: Model
    version: int | str  # a ModelVersion number, or "default" (the shipped model)


def active_model(session: Session) -> ActiveModel:
    row = session.scalars(
        select(ModelVersion)
        .where(ModelVersion.is_active.is_(True))
        .order_by(ModelVersion.version.desc())
        .limit(1)
    ).first()
    if row is None:
        return ActiveModel(persistence.load_default(), DEFAULT_VERSION)
    return ActiveModel(_load(row), row.version)


def _load(row: ModelVersion) -> Model:
    """Versions never change once stored: each artifact is deserialised once per process
    (keyed by its digest, so two databases' "version 1" never mix)."""
    settings = row.params.get("settings", {})
    digest = hashlib.sha256(row.artifact)
    digest.update(json.dumps(settings, sort_keys=True).encode())
    key = digest.hexdigest()
    if key not in _LOADED:
        _LOADED[key] = persistence.load(row.artifact, settings)
    return _LOADED[key]


_LOADED: dict[str, Model] = {}


def order_query(order: Order) -> OrderQuery:
    return OrderQuery(
        order.order_id,
        order.provisioning_email,
        order.company_name,
        order.country,
        order.partner_id,
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
    """Every order awaiting an org, oldest first, streamed in batches."""
    now = now or utcnow()
    waiting = [s.value for s in OrderState if s.awaits_org]
    with db.read() as session:
        active = active_model(session)
        after: tuple[datetime, str] | None = None
        while True:
            query = select(Order).where(Order.state.in_(waiting))
            if after is not None:
                query = query.where(
                    (Order.placed_at > after[0])
                    | ((Order.placed_at == after[0]) & (Order.order_id > after[1]))
                )
            batch = session.scalars(
                query.order_by(Order.placed_at, Order.order_id).limit(MATCH_BATCH)
            ).all()
            if not batch:
                return
            queries = [order_query(order) for order in batch]
            source = PrefetchingSource(session)  # one per batch: memory stays bounded
            source.prefetch(queries, DOMAIN_LIMIT, NAME_LIMIT)
            for query_ in queries:
                yield match_order(query_, source, active.model, now)
            after = (batch[-1].placed_at, batch[-1].order_id)
            session.expunge_all()


def labelled_orders(session: Session, now: datetime) -> list[LabelledOrder]:
    """Every decided order as a training example, candidates generated as of `now`.

    An org created *for* the order did not exist when it was decided: such orders are
    examples of "new org", and the created org is not a candidate.
    """
    source = SqlCandidateSource(session)
    decided = session.scalars(
        select(Order).where(Order.decision.is_not(None)).order_by(Order.order_id)
    )
    labelled = []
    for order in decided:
        new_org = order.new_org or order.decision == Decision.CREATED_ORG
        found = find_candidates(order_query(order), source)
        if new_org and order.org_id:
            found.candidates = [c for c in found.candidates if c.org_id != order.org_id]
        labelled.append(LabelledOrder(found, None if new_org else order.org_id, now))
    return labelled


@dataclass(frozen=True)
class TrainReport:
    version: int
    activated: bool
    result: TrainingResult
    previous: dict[str, float] | None
    baselines: dict[str, dict[str, float]]


def train(
    db: Database,
    actor: str,
    C: float = 1.0,
    thresholds: Thresholds | None = None,
    force: bool = False,
    now: datetime | None = None,
) -> TrainReport:
    """Fit a new version on every decided order; activate it unless it is worse."""
    now = now or utcnow()
    with db.read() as session:
        orders = labelled_orders(session, now)
        current = active_model(session)
    try:
        result = fit(orders, C=C, thresholds=thresholds)
    except ValueError as exc:
        raise InvalidInput(FieldError("history", str(exc))) from None
    test_orders = result.held_out  # every finder is judged on the same held-out orders
    previous = metrics(predict_all(model_finder(current.model), test_orders))
    baselines = {
        "rule_of_thumb": metrics(predict_all(rule_of_thumb, test_orders)),
        "old_wizard": metrics(predict_all(old_wizard_rule, test_orders)),
    }
    better = result.metrics["accuracy"] >= previous["accuracy"] - ACTIVATION_TOLERANCE
    # In-sample metrics prove nothing: such a version is only activated on request.
    activate = force or (better and not result.in_sample)
    settings = persistence.settings_of(result.model)
    with db.write() as session:
        if activate:
            session.execute(update(ModelVersion).values(is_active=False))
        row = ModelVersion(
            created_by=actor,
            is_active=activate,
            artifact_format=persistence.FORMAT,
            artifact=persistence.dump(result.model),
            params={"settings": settings, **result.params, "orders": len(orders)},
            metrics={
                "held_out": result.metrics,
                "coverage": result.coverage,
                "thresholds_effect": result.thresholds_effect,
                "previous_on_held_out": previous,
                "baselines_on_held_out": baselines,
            },
            thresholds=settings["thresholds"],
        )
        session.add(row)
        session.flush()
        session.add(
            AuditEvent(
                actor=actor,
                action="model.train",
                entity_type="model_version",
                entity_id=str(row.version),
                after={"activated": activate, "accuracy": result.metrics["accuracy"]},
            )
        )
        version = row.version
    return TrainReport(version, activate, result, previous, baselines)


def evaluate(
    db: Database,
    version: int | None = None,
    thresholds: Thresholds | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Metrics of a version (default: the active one) on every decided order, beside the
    two hand rules, and what the thresholds would do."""
    now = now or utcnow()
    with db.read() as session:
        if version is None:
            active = active_model(session)
        else:
            row = session.get(ModelVersion, version)
            if row is None:
                raise NotFound(f"model version {version} does not exist")
            active = ActiveModel(_load(row), row.version)
        orders = labelled_orders(session, now)
    if not orders:
        raise InvalidInput(FieldError("history", "no decided orders to evaluate on"))
    model = active.model
    if thresholds is not None:
        model = Model(model.pipeline, thresholds, model.none_bias, model.params)
    predictions = predict_all(model_finder(model), orders)
    return {
        "version": active.version,
        "orders": len(orders),
        "metrics": {
            "model": metrics(predictions),
            "rule_of_thumb": metrics(predict_all(rule_of_thumb, orders)),
            "old_wizard": metrics(predict_all(old_wizard_rule, orders)),
        },
        "coverage": coverage_curve(predictions),
        "thresholds": {"auto": model.thresholds.auto, "review": model.thresholds.review},
        "thresholds_effect": threshold_effect(predictions, model.thresholds),
    }


def list_models(db: Database) -> list[dict[str, Any]]:
    with db.read() as session:
        rows = session.execute(
            select(
                ModelVersion.version,
                ModelVersion.created_at,
                ModelVersion.created_by,
                ModelVersion.is_active,
                ModelVersion.metrics,
                ModelVersion.thresholds,
            ).order_by(ModelVersion.version)
        ).all()
    return [
        {
            "version": version,
            "created_at": created_at,
            "created_by": created_by,
            "active": active,
            "accuracy": (scores or {}).get("held_out", {}).get("accuracy"),
            "thresholds": thresholds,
        }
        for version, created_at, created_by, active, scores, thresholds in rows
    ]


def activate(db: Database, version: int, actor: str) -> bool:
    """Make `version` the one the app uses; returns False if it already was (idempotent)."""
    with db.write() as session:
        row = session.get(ModelVersion, version)
        if row is None:
            raise NotFound(f"model version {version} does not exist")
        if row.is_active and not session.scalar(
            select(ModelVersion.version).where(
                ModelVersion.is_active.is_(True), ModelVersion.version != version
            )
        ):
            return False
        session.execute(update(ModelVersion).values(is_active=False))
        row.is_active = True
        session.add(
            AuditEvent(
                actor=actor,
                action="model.activate",
                entity_type="model_version",
                entity_id=str(version),
                after={"active": True},
            )
        )
    return True
