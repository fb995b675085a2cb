"""Scorer versions: train one on the decided history, evaluate one, list, activate,
publish one fitted elsewhere (the notebooks), roll back.

Training writes one `ModelVersion` (and an audit event) in one transaction. `publish`
stores a model an analyst fitted and judged elsewhere as a new version, with the metrics
that justify it; `rollback` makes an earlier version, or the shipped model, active again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from matching import persistence
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
from matching.scorer import Model, Thresholds
from matching.training import TrainingResult, fit, is_linear_scorer
from provisioning import audit
from provisioning.access import Actor, Permission, authorize
from provisioning.db import Database
from provisioning.errors import FieldError, InvalidInput, NotFound
from provisioning.finder.active import (
    DEFAULT_VERSION,
    ActiveModel,
    active_model,
    active_version_of,
    load_version,
)
from provisioning.finder.running import labelled_orders
from provisioning.models import ModelVersion
from provisioning.models.base import utcnow

# A new version must not lose more accuracy than this to be activated without --force.
ACTIVATION_TOLERANCE = 0.005


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
    artifact = persistence.dump(result.model)
    settings = persistence.sealed(persistence.settings_of(result.model), artifact)
    with db.write() as session:
        version = _store_version(
            session,
            actor,
            "model.train",
            artifact,
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
    from provisioning.finder import watch  # it imports this module

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
        in_production = watch.in_production(session, active.version).to_dict()
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


HELD_OUT_METRICS = (
    "accuracy",
    "precision_at_1",
    "recall_at_5",
    "new_org_precision",
    "new_org_recall",
    "brier",
)


@dataclass(frozen=True, slots=True)
class VersionSummary:
    """A stored scorer version and the metrics it was judged by when it was trained."""

    version: int
    created_at: datetime
    created_by: str
    active: bool
    trained_on: int | None  # decided orders in its training history
    held_out_orders: int | None  # orders the held-out metrics were measured on
    thresholds: dict[str, float]
    held_out: dict[str, float | None]  # HELD_OUT_METRICS, None when not stored


def model_versions(db: Database) -> list[VersionSummary]:
    """Every stored version, newest first, with its held-out metrics (no artifacts read)."""
    with db.read() as session:
        rows = session.execute(
            select(
                ModelVersion.version,
                ModelVersion.created_at,
                ModelVersion.created_by,
                ModelVersion.is_active,
                ModelVersion.params,
                ModelVersion.metrics,
                ModelVersion.thresholds,
            ).order_by(ModelVersion.version.desc())
        ).all()
    summaries = []
    for version, created_at, created_by, active, params, scores, thresholds in rows:
        held_out = (scores or {}).get("held_out", {})
        orders = held_out.get("orders")
        summaries.append(
            VersionSummary(
                version=version,
                created_at=created_at,
                created_by=created_by,
                active=bool(active),
                trained_on=(params or {}).get("orders"),
                held_out_orders=int(orders) if orders is not None else None,
                thresholds=dict(thresholds or {}),
                held_out={name: held_out.get(name) for name in HELD_OUT_METRICS},
            )
        )
    return summaries


def list_models(db: Database) -> list[dict[str, Any]]:
    """`onboard models list`: every version, oldest first, as plain rows (the JSON keys
    are a contract)."""
    return [
        {
            "version": v.version,
            "created_at": v.created_at,
            "created_by": v.created_by,
            "active": v.active,
            "accuracy": v.held_out["accuracy"],
            "thresholds": v.thresholds,
        }
        for v in reversed(model_versions(db))
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
        return active_version_of(session)


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
    settings = persistence.sealed(settings, artifact)
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
        loaded = persistence.load(artifact, settings, deferred=False)
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
