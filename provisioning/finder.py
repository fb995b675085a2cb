"""The organization finder as a service: match orders, train and evaluate scorer versions.

Matching reads; training writes one `ModelVersion` (and an audit event) in one
transaction. The active version is the newest one marked active; with none, the model
that ships with the project is used, so a fresh install matches out of the box.

`publish` stores a model an analyst fitted and judged elsewhere (the notebooks) as a new
version, with the metrics that justify it; `rollback` makes an earlier version, or the
shipped model, active again.
"""

from __future__ import annotations

import gc
import hashlib
import itertools
import json
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, object_session

from matching import persistence
from matching.candidates import (
    DOMAIN_LIMIT,
    NAME_LIMIT,
    PARTNER_LIMIT,
    CandidateSet,
    OrderQuery,
    find_candidates_of,
)
from matching.errors import MatchingError
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
from matching.features import FEATURE_NAMES
from matching.matcher import MatchResult, match_order, match_orders
from matching.scorer import Model, Thresholds
from matching.training import TrainingResult, fit, is_linear_scorer
from provisioning import audit
from provisioning.access import Actor, Permission, authorize
from provisioning.db import Database
from provisioning.errors import Conflict, FieldError, InvalidInput, NotFound
from provisioning.finder_source import PrefetchingSource, SqlCandidateSource
from provisioning.models import ModelVersion, Order, OrderLine
from provisioning.models.base import utcnow
from provisioning.states import Decision, OrderState

DEFAULT_VERSION = "default"
MATCH_BATCH = 500
_IN_FLIGHT = 2  # batches ranked at once by `match_all` (one per core here)
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
    return ActiveModel(load_version(row), row.version)


def load_version(row: ModelVersion) -> Model:
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


@dataclass(frozen=True)
class TrainReport:
    version: int
    activated: bool
    result: TrainingResult
    previous: dict[str, float] | None
    baselines: dict[str, dict[str, float]]


def fit_history(
    orders: Sequence[LabelledOrder], C: float = 1.0, thresholds: Thresholds | None = None
) -> TrainingResult:
    """What `train` fits on an installation's decided orders: an ensemble on top of the
    shipped model — what it learnt from many worlds still holds where this history is
    thin (`matching.transfer`) — with risk-controlled thresholds unless given."""
    return fit(orders, C=C, thresholds=thresholds, prior=persistence.load_default())


def train(
    db: Database,
    actor: Actor,
    C: float = 1.0,
    thresholds: Thresholds | None = None,
    force: bool = False,
    now: datetime | None = None,
) -> TrainReport:
    """Fit a new version on every decided order; activate it unless it is worse."""
    authorize(actor, Permission.PUBLISH_MODELS)
    now = now or utcnow()
    with db.read() as session:
        orders = labelled_orders(session, now)
        current = active_model(session)
    try:
        result = fit_history(orders, C, thresholds)
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
        version = _store_version(
            session,
            actor,
            "model.train",
            persistence.dump(result.model),
            settings,
            {**result.params, "orders": len(orders)},
            {
                "held_out": result.metrics,
                "coverage": result.coverage,
                "thresholds_effect": result.thresholds_effect,
                "previous_on_held_out": previous,
                "baselines_on_held_out": baselines,
            },
            activate,
            {"activated": activate, "accuracy": result.metrics["accuracy"]},
        )
    return TrainReport(version, activate, result, previous, baselines)


def evaluate(
    db: Database,
    version: int | None = None,
    thresholds: Thresholds | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Metrics of a version (default: the active one) on every decided order, beside the
    two hand rules, and what the thresholds would do; `in_production`: how its
    confident band did on the decisions made since it was activated (answers as recorded
    then, so `thresholds` does not change it)."""
    from provisioning import model_watch  # it imports this module

    now = now or utcnow()
    with db.read() as session:
        if version is None:
            active = active_model(session)
        else:
            row = session.get(ModelVersion, version)
            if row is None:
                raise NotFound(f"model version {version} does not exist")
            active = ActiveModel(load_version(row), row.version)
        orders = labelled_orders(session, now)
        in_production = model_watch.in_production(session, active.version).to_dict()
    if not orders:
        raise InvalidInput(FieldError("history", "no decided orders to evaluate on"))
    model = active.model
    if thresholds is not None:
        model = replace(model, thresholds=thresholds)
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
        "in_production": in_production,
        # How the auto threshold was chosen (None: set by hand or before risk control).
        "risk_control": dict(model.risk_control) if model.risk_control else None,
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


def activate(db: Database, version: int, actor: Actor) -> bool:
    """Make `version` the one the app uses; returns False if it already was (idempotent)."""
    authorize(actor, Permission.PUBLISH_MODELS)
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
        row.is_active, row.activated_at = True, utcnow()
        session.add(
            audit.event(
                actor, "model.activate", "model_version", str(version), None, {"active": True}
            )
        )
    return True


def active_version(db: Database) -> int | str:
    """The version the app and `onboard match` use now: a number, or "default" (the
    shipped model). Reads one row; loads nothing."""
    with db.read() as session:
        version = session.scalar(
            select(ModelVersion.version)
            .where(ModelVersion.is_active.is_(True))
            .order_by(ModelVersion.version.desc())
            .limit(1)
        )
    return DEFAULT_VERSION if version is None else version


def publish(
    db: Database,
    model: Model,
    actor: Actor,
    metrics: Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
    activate: bool = True,
) -> int:
    """Store a model fitted outside `train` (an analyst's notebook) as a new version and,
    unless `activate` is False, make it the one the app and `onboard match` use at once.

    Nothing is re-fitted or re-judged here: the analyst brings the evidence. `metrics`
    is stored as given; its `held_out` entry (`matching.evaluation.metrics` on orders the
    model never saw, e.g. a cross-validation's) is what `onboard models list` shows, so
    it is required. The artifact is loaded back exactly as the app will load it before
    anything is written: a model the app could not use or explain is refused, not stored.
    """
    authorize(actor, Permission.PUBLISH_MODELS)
    params = dict(params or {})
    try:
        stored_metrics = _plain(dict(metrics))
        stored_params = _plain(params)
        settings = _plain(persistence.settings_of(model))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(FieldError("metrics/params", f"must be plain JSON: {exc}")) from None
    problems = []
    held_out = stored_metrics.get("held_out")
    accuracy = held_out.get("accuracy") if isinstance(held_out, dict) else None
    if (
        isinstance(accuracy, bool)
        or not isinstance(accuracy, int | float)
        or not 0 <= accuracy <= 1
    ):
        problems.append(
            FieldError(
                "metrics",
                "needs held_out.accuracy in [0, 1] (per-order metrics on orders not fitted on)",
            )
        )
    if "settings" in stored_params:
        problems.append(FieldError("params", "'settings' is reserved for the model's own"))
    if problems:
        raise InvalidInput(problems)
    artifact = _checked_artifact(model, settings)
    with db.write() as session:
        return _store_version(
            session,
            actor,
            "model.publish",
            artifact,
            settings,
            stored_params,
            stored_metrics,
            activate,
            {"activated": activate, "accuracy": float(accuracy)},
        )


def _store_version(
    session: Session,
    actor: Actor,
    action: str,
    artifact: bytes,
    settings: dict[str, Any],
    params: dict[str, Any],
    metrics_: dict[str, Any],
    activate: bool,
    audited: dict[str, Any],
) -> int:
    """A new model version (made the only active one when `activate`) and its audit
    event, recording which versions were active before."""
    previous = session.scalars(
        select(ModelVersion.version).where(ModelVersion.is_active.is_(True))
    ).all()
    if activate:
        session.execute(update(ModelVersion).values(is_active=False))
    row = ModelVersion(
        created_by=actor.email,
        is_active=activate,
        artifact_format=persistence.FORMAT,
        artifact=artifact,
        params={"settings": settings, **params},
        metrics=metrics_,
        thresholds=settings["thresholds"],
    )
    session.add(row)
    session.flush()
    before = {"active": list(previous) or DEFAULT_VERSION}
    session.add(audit.event(actor, action, "model_version", str(row.version), before, audited))
    return row.version


def _checked_artifact(model: Model, settings: dict[str, Any]) -> bytes:
    """The skops artifact of `model`, proven to load back (allow-list included) into the
    same scores; anything but the scorer's linear pipeline is refused."""
    scorers = [model, *model.members]
    if any(type(m) is not Model or not is_linear_scorer(m.pipeline) for m in scorers):
        raise InvalidInput(
            FieldError(
                "model",
                "only the scorer pipeline (matching.scorer.make_pipeline: standardise + "
                "logistic regression) can be published: the app explains every "
                "recommendation in per-feature log-odds",
            )
        )
    artifact = persistence.dump(model)
    probe = np.vstack([np.zeros(len(FEATURE_NAMES)), np.ones(len(FEATURE_NAMES))])
    try:
        loaded = persistence.load(artifact, settings)
        same = np.allclose(
            loaded.independent_probabilities(probe), model.independent_probabilities(probe)
        )
    except (MatchingError, ValueError, KeyError, AttributeError) as exc:
        raise InvalidInput(FieldError("model", f"does not load back: {exc}")) from None
    if (
        not same
        or loaded.thresholds != model.thresholds
        or loaded.none_bias != model.none_bias
        or len(loaded.members) != len(model.members)
    ):
        raise InvalidInput(FieldError("model", "does not load back into the same scorer"))
    return artifact


def _plain(value: Any) -> Any:
    """`value` as plain JSON types (NumPy scalars and arrays included), or TypeError."""

    def convert(item: Any) -> Any:
        if isinstance(item, np.generic):
            return item.item()
        if isinstance(item, np.ndarray):
            return item.tolist()
        raise TypeError(f"{type(item).__name__} is not JSON")

    return json.loads(json.dumps(value, default=convert, allow_nan=False))


def rollback(db: Database, to: int | str, actor: Actor) -> bool:
    """Make `to` active again: a version number, or "default" for the model that ships
    with the project (then no stored version is active). The undo of a publish or an
    activation, audited as such; returns False if `to` already was the active model."""
    authorize(actor, Permission.PUBLISH_MODELS)
    target: int | None = None
    if str(to) != DEFAULT_VERSION:
        try:
            target = int(to)
        except ValueError:
            raise InvalidInput(
                FieldError("to", f"a version number or {DEFAULT_VERSION!r} (got {to!r})")
            ) from None
    with db.write() as session:
        if target is not None and session.get(ModelVersion, target) is None:
            raise NotFound(f"model version {target} does not exist")
        active = session.scalars(
            select(ModelVersion.version).where(ModelVersion.is_active.is_(True))
        ).all()
        if list(active) == ([] if target is None else [target]):
            return False
        session.execute(update(ModelVersion).values(is_active=False))
        if target is not None:
            session.execute(
                update(ModelVersion).where(ModelVersion.version == target).values(is_active=True)
            )
        before = {"active": list(active) or DEFAULT_VERSION}
        after = {"active": DEFAULT_VERSION if target is None else target}
        session.add(audit.event(actor, "model.rollback", "model_version", str(to), before, after))
    return True
