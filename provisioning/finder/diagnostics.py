"""What an analyst needs to trust (or distrust) a scorer version: its stored metrics, and
diagnostics measured on every decided order of the history.

The diagnostics rank each decided order once with the version, as of now, and keep
plain numbers: calibration bins, the accuracy–coverage / precision–recall points, the
predictions the threshold what-if recomputes in a millisecond, and the orders the
model got wrong with the evidence that misled it. Ranking the history takes seconds on
a big desk, so callers cache the result per database and version.

These figures are measured on orders a trained version has *seen*; the held-out metrics
stored with each version (`model_versions`) are the fair comparison between versions.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from matching import persistence
from matching.evaluation import (
    LabelledOrder,
    Prediction,
    coverage_at,
    metrics,
    precision_recall_points,
    prediction_of,
    reliability_curve,
    threshold_effect,
)
from matching.explain import contrast, evidence
from matching.scorer import Model, Ranking, Review, Thresholds, rank
from provisioning import finder
from provisioning.db import Database
from provisioning.errors import FieldError, InvalidInput, NotFound
from provisioning.i18n import N_
from provisioning.models import ModelVersion, Org
from provisioning.models.base import utcnow

MISS_LIMIT = 200  # the most confident misses are the instructive ones; more is noise
RELIABILITY_BINS = 10
# What the two thresholds do with an answer, as an analyst reads it.
REVIEW_MODES = {
    Review.AUTO: N_("Applied it automatically"),
    Review.CONFIRM: N_("Offered it for confirmation"),
    Review.OPERATOR: N_("Left it to an operator"),
}


@dataclass(frozen=True, slots=True)
class Miss:
    """A decided order whose right org was not the model's answer."""

    order_id: str
    company_name: str
    decided_org_id: str | None  # None: a new org was the right answer
    decided_org_name: str | None
    predicted_org_id: str | None  # None: the model said "create a new org"
    predicted_org_name: str | None
    confidence: float
    review: str  # what the thresholds would have done with it: auto, confirm, operator
    decided_rank: int | None  # where the right org stood in the ranking (1 = first)
    evidence: tuple[str, ...]  # about the model's pick (or, if it said "new", the right org)
    contrast: str | None  # why the first candidate beat the second, in evidence terms


@dataclass(frozen=True)
class Diagnostics:
    version: int | str
    orders: int
    thresholds: Thresholds
    metrics: dict[str, float]
    reliability: list[dict[str, float]]
    curve: list[dict[str, float]]  # threshold, orders, coverage, precision, recall
    misses: list[Miss]  # most confident first, at most MISS_LIMIT
    misses_total: int
    # Every answer, for the threshold what-if; rankings cut to the first candidate (the
    # read model stays small enough to cache and copy on every rerun).
    predictions: tuple[Prediction, ...] = field(repr=False)
    # How the version's auto threshold was chosen (`matching.risk_control`); None: by hand.
    risk_control: dict[str, Any] | None = None


def diagnostics(
    db: Database,
    version: int | str | None = None,
    now: datetime | None = None,
    miss_limit: int = MISS_LIMIT,
) -> Diagnostics:
    """Rank every decided order with `version` and measure it. `None` is the version the
    app uses (the active one, or the shipped model when none is active); "default" is the
    shipped model itself, the baseline every trained version should beat. An empty
    history gives empty figures, not an error: a fresh desk has nothing to measure yet."""
    now = now or utcnow()
    with db.read() as session:
        if version is None:
            active = finder.active_model(session)
            model, name = active.model, active.version
        elif version == finder.DEFAULT_VERSION:
            model, name = persistence.load_default(), finder.DEFAULT_VERSION
        else:
            row = session.get(ModelVersion, int(version))
            if row is None:
                raise NotFound(f"model version {version} does not exist")
            model, name = finder.load_version(row), row.version
        orders = finder.labelled_orders(session, now)
        # A ranking carries every candidate's features: only the answers are kept, and
        # the few misses shown are ranked again below to be explained.
        predictions = [prediction_of(rank(model, o.found, o.now), o.truth) for o in orders]
        wrong = [i for i, p in enumerate(predictions) if not p.correct]
        shown = heapq.nsmallest(
            miss_limit,
            wrong,
            key=lambda i: (-predictions[i].confidence, orders[i].found.order.order_id),
        )
        misses = _misses(
            session,
            model,
            [(orders[i], rank(model, orders[i].found, now), predictions[i]) for i in shown],
        )
    return Diagnostics(
        version=name,
        orders=len(predictions),
        thresholds=model.thresholds,
        metrics=metrics(predictions) if predictions else {},
        reliability=reliability_curve(predictions, RELIABILITY_BINS),
        curve=precision_recall_points(predictions),
        misses=misses,
        misses_total=len(wrong),
        predictions=tuple(replace(p, ranked=p.ranked[:1]) for p in predictions),
        risk_control=dict(model.risk_control) if model.risk_control else None,
    )


def _misses(
    session: Session, model: Model, wrong: list[tuple[LabelledOrder, Ranking, Prediction]]
) -> list[Miss]:
    names: dict[str, str] = {}
    for _order, ranking, _p in wrong:
        names.update({s.candidate.org_id: s.candidate.facts.name for s in ranking.ranked})
    unknown = {p.truth for *_, p in wrong if p.truth and p.truth not in names}
    if unknown:  # the right org was not even a candidate: its name from the org table
        found = session.execute(select(Org.org_id, Org.name).where(Org.org_id.in_(unknown)))
        names.update({org_id: name for org_id, name in found})
    misses = []
    for order, ranking, p in wrong:
        ids = [s.candidate.org_id for s in ranking.ranked]
        shown = p.predicted or p.truth  # a "new org" answer is explained by the org it missed
        candidate = next((s.candidate for s in ranking.ranked if s.candidate.org_id == shown), None)
        misses.append(
            Miss(
                order_id=order.found.order.order_id,
                company_name=order.found.order.company_name,
                decided_org_id=p.truth,
                decided_org_name=names.get(p.truth) if p.truth else None,
                predicted_org_id=p.predicted,
                predicted_org_name=names.get(p.predicted) if p.predicted else None,
                confidence=p.confidence,
                review=model.thresholds.review_for(p.confidence).value,
                decided_rank=ids.index(p.truth) + 1 if p.truth in ids else None,
                evidence=tuple(evidence(order.found, candidate, order.now)) if candidate else (),
                contrast=contrast(ranking, order.now),
            )
        )
    return misses


def what_if(predictions: tuple[Prediction, ...], auto: float, review: float) -> dict[str, float]:
    """What two thresholds would have done to the decided orders: the share applied
    automatically and how many of those were right, the share offered for confirmation,
    the share left to an operator; plus where each threshold sits on the accuracy–coverage
    and precision–recall curves (`offered_*`: every answer at or above `review`)."""
    try:
        thresholds = Thresholds(auto=auto, review=review)
    except ValueError:
        raise InvalidInput(
            FieldError("review", "must not be above the automatic threshold", value=str(review))
        ) from None
    effect = threshold_effect(predictions, thresholds)
    auto_point = coverage_at(predictions, auto)
    offered = coverage_at(predictions, review)
    right = sum(p.correct for p in predictions)

    def recall(point: dict[str, float]) -> float:
        answered_right = point["accuracy"] * point["coverage"] * len(predictions)
        return answered_right / right if right else 0.0

    return {
        **effect,
        "orders": float(len(predictions)),
        "auto_orders": float(round(effect["auto_share"] * len(predictions))),
        "auto_recall": recall(auto_point),
        "offered_share": offered["coverage"],
        "offered_accuracy": offered["accuracy"],
        "offered_recall": recall(offered),
    }
