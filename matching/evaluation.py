"""Evaluating a finder per order: the metrics of `onboard evaluate`, the two hand rules it
is compared with, and what the thresholds would do to precision and workload.

Everything is per order (not per candidate pair): an operator experiences orders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from matching.candidates import CandidateSet, Source
from matching.scorer import Model, Ranking, Review, Thresholds, rank

COVERAGE_POINTS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)


@dataclass(frozen=True, slots=True)
class LabelledOrder:
    """An order's candidates and the org that was right (None: a new org)."""

    found: CandidateSet
    truth: str | None
    now: datetime


@dataclass(frozen=True, slots=True)
class Prediction:
    truth: str | None
    predicted: str | None
    ranked: tuple[str, ...]  # candidate org ids, best first
    confidence: float

    @property
    def correct(self) -> bool:
        return self.predicted == self.truth


Finder = Callable[[LabelledOrder], Prediction]


def model_finder(model: Model) -> Finder:
    def predict(order: LabelledOrder) -> Prediction:
        return prediction_of(rank(model, order.found, order.now), order.truth)

    return predict


def prediction_of(ranking: Ranking, truth: str | None) -> Prediction:
    """The model's answer for one order, from a ranking already made (diagnostics keep the
    ranking to explain a miss, so they must not rank twice)."""
    best = ranking.recommended
    return Prediction(
        truth,
        best.candidate.org_id if best else None,
        tuple(s.candidate.org_id for s in ranking.ranked),
        ranking.confidence,
    )


def rule_of_thumb(order: LabelledOrder) -> Prediction:
    """What operators do by hand: exact e-mail → that org; else the org on the domain with
    most active members; else a new org."""
    found = order.found
    if found.exact_org_id is not None:
        return _rule(order, found.exact_org_id)
    on_domain = [c for c in found.candidates if c.sources & {Source.DOMAIN, Source.MEMBERS}]
    if on_domain:
        best = max(on_domain, key=lambda c: (c.facts.active_members, c.org_id))
        return _rule(order, best.org_id)
    return _rule(order, None)


def old_wizard_rule(order: LabelledOrder) -> Prediction:
    """The rule an older Webex order wizard published: exact administrator e-mail → that
    org; else orgs whose name shares the company name's first 5 characters and that have
    users on the e-mail's domain; else a new org."""
    found = order.found
    if found.exact_org_id is not None:
        return _rule(order, found.exact_org_id)
    stem = found.order.company_name.strip().lower()[:5]
    matches = sorted(
        (
            c
            for c in found.candidates
            if c.members_on_domain is not None and c.facts.name.strip().lower()[:5] == stem
        ),
        key=lambda c: (-c.members_on_domain.members if c.members_on_domain else 0, c.org_id),
    )
    return _rule(order, matches[0].org_id if matches else None)


def _rule(order: LabelledOrder, org_id: str | None) -> Prediction:
    return Prediction(order.truth, org_id, (org_id,) if org_id else (), 1.0)


def predict_all(finder: Finder, orders: Sequence[LabelledOrder]) -> list[Prediction]:
    return [finder(order) for order in orders]


def metrics(predictions: Sequence[Prediction]) -> dict[str, float]:
    """accuracy, precision@1, MRR, recall@5, new-org precision/recall, Brier, errors."""
    total = len(predictions)
    existing = [p for p in predictions if p.truth is not None]
    said_new = [p for p in predictions if p.predicted is None]
    truly_new = [p for p in predictions if p.truth is None]
    reciprocal = [
        1 / (p.ranked.index(p.truth) + 1) if p.truth in p.ranked else 0.0 for p in existing
    ]
    return {
        "orders": float(total),
        "accuracy": _share(sum(p.correct for p in predictions), total),
        "precision_at_1": _share(sum(p.ranked[:1] == (p.truth,) for p in existing), len(existing)),
        "mrr": _share(sum(reciprocal), len(existing)),
        "recall_at_5": _share(sum(p.truth in p.ranked[:5] for p in existing), len(existing)),
        "new_org_precision": _share(sum(p.truth is None for p in said_new), len(said_new)),
        "new_org_recall": _share(sum(p.predicted is None for p in truly_new), len(truly_new)),
        "brier": _share(sum((p.confidence - p.correct) ** 2 for p in predictions), total),
        "errors": float(sum(not p.correct for p in predictions)),
    }


def coverage_curve(predictions: Sequence[Prediction]) -> list[dict[str, float]]:
    """Accuracy among the orders at or above each confidence, and how many those are."""
    rows = []
    for threshold in COVERAGE_POINTS:
        covered = [p for p in predictions if p.confidence >= threshold]
        rows.append(
            {
                "threshold": threshold,
                "coverage": _share(len(covered), len(predictions)),
                "accuracy": _share(sum(p.correct for p in covered), len(covered)),
            }
        )
    return rows


def threshold_effect(predictions: Sequence[Prediction], thresholds: Thresholds) -> dict[str, float]:
    """What the two thresholds would do: share of orders per review mode, and precision of
    the automatic ones (the workload an operator no longer sees, and its cost)."""
    modes = {
        mode: [p for p in predictions if thresholds.review_for(p.confidence) is mode]
        for mode in Review
    }
    total = len(predictions)
    auto = modes[Review.AUTO]
    confirm = modes[Review.CONFIRM]
    return {
        "auto_share": _share(len(auto), total),
        "auto_precision": _share(sum(p.correct for p in auto), len(auto)),
        "confirm_share": _share(len(confirm), total),
        "confirm_precision": _share(sum(p.correct for p in confirm), len(confirm)),
        "operator_share": _share(len(modes[Review.OPERATOR]), total),
    }


def _share(part: float, whole: int) -> float:
    return float(part) / whole if whole else 0.0


def reliability_curve(predictions: Sequence[Prediction], bins: int = 10) -> list[dict[str, float]]:
    """Calibration: per equal-width confidence bin, the mean confidence stated and the share
    of those orders the model got right. A calibrated model lies on the diagonal; points
    below it are over-confident, which is what makes an automatic threshold unsafe.
    Empty bins are left out (they have no accuracy to plot)."""
    if bins < 1:
        raise ValueError("bins must be at least 1")
    grouped: list[list[Prediction]] = [[] for _ in range(bins)]
    for p in predictions:
        grouped[min(int(p.confidence * bins), bins - 1)].append(p)
    return [
        {
            "low": i / bins,
            "high": (i + 1) / bins,
            "orders": float(len(group)),
            "confidence": sum(p.confidence for p in group) / len(group),
            "accuracy": sum(p.correct for p in group) / len(group),
        }
        for i, group in enumerate(grouped)
        if group
    ]


def precision_recall_points(
    predictions: Sequence[Prediction], max_points: int = 200
) -> list[dict[str, float]]:
    """The model's answer taken only at or above a confidence threshold, for every
    threshold the orders' confidences offer (highest first, thinned to `max_points`).

    `coverage` is the share of orders answered, `precision` the share of those answered
    right (the accuracy–coverage curve plots these two), `recall` the share of all the
    orders the model gets right that are answered (the precision–recall curve plots
    precision against it).
    """
    total = len(predictions)
    right = sum(p.correct for p in predictions)
    ordered = sorted(predictions, key=lambda p: -p.confidence)
    points: list[dict[str, float]] = []
    correct = 0
    for covered, p in enumerate(ordered, start=1):
        correct += p.correct
        last_of_its_confidence = covered == total or ordered[covered].confidence < p.confidence
        if last_of_its_confidence:
            points.append(
                {
                    "threshold": p.confidence,
                    "orders": float(covered),
                    "coverage": covered / total,
                    "precision": correct / covered,
                    "recall": _share(correct, right),
                }
            )
    if len(points) > max_points > 1:
        step = (len(points) - 1) / (max_points - 1)
        points = [points[round(i * step)] for i in range(max_points)]
    return points


def coverage_at(predictions: Sequence[Prediction], threshold: float) -> dict[str, float]:
    """The orders at or above one confidence: how many (share) and how many right."""
    covered = [p for p in predictions if p.confidence >= threshold]
    return {
        "threshold": threshold,
        "coverage": _share(len(covered), len(predictions)),
        "accuracy": _share(sum(p.correct for p in covered), len(covered)),
    }


def resolved_at_precision(predictions: Sequence[Prediction], target: float) -> float:
    """The largest share of orders the finder could resolve without an operator while its
    answers stay at least `target` right: of every confidence threshold the orders offer,
    the one that covers most orders (those at or above it) with precision ≥ `target`.

    This is what an auto-apply threshold can achieve at best, read off the finder's own
    ranking: a high share means its confidence separates right from wrong. Orders of equal
    confidence are taken together (no threshold can split them), so a confident error
    counts against every threshold at or below its confidence. 0.0 when no threshold
    reaches `target` (or there are no orders).
    """
    ordered = sorted(predictions, key=lambda p: -p.confidence)
    total = len(ordered)
    best = correct = 0
    for covered, p in enumerate(ordered, start=1):
        correct += p.correct
        last_of_its_confidence = covered == total or ordered[covered].confidence < p.confidence
        if last_of_its_confidence and correct / covered >= target:
            best = covered
    return _share(best, total)
