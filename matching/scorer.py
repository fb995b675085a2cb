"""The scorer: a scikit-learn Pipeline over candidate features, and how its per-candidate
probabilities become one decision per order.

The Pipeline (standardise, then logistic regression) gives each candidate an independent
probability p_i of being the right org; it is interpretable (a contribution per feature in
log-odds) and well calibrated on this kind of data. Exactly one org, or none, is right, so
the order-level distribution is the conditional logit over {none, candidates}:
P(i) = o_i / (1 + Σ o_j) and P(none) = 1 / (1 + Σ o_j), with o_i = p_i / (1 - p_i).
`none_bias` (log-odds, fitted on held-out orders) shifts how readily "none" wins.

How sure the answer is (`Ranking.confidence`) is the model's probability of it, lowered
where the model has reason to doubt itself: the members of its ensemble (fitted on parts
of the history) disagree, the answer looks unlike any seen in training
(`matching.familiarity`), or a domain rule holds it back (`matching.guard_rails`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from matching.candidates import Candidate, CandidateSet
from matching.familiarity import evidence_pattern, familiarity_cap
from matching.features import FEATURE_NAMES, feature_rows
from matching.guard_rails import GUARDED_CONFIDENCE, GuardRail, guard_rails

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

# (mean, scale, coefficients, intercept): log-odds = coef · (x - mean) / scale + intercept
LinearForm = tuple[np.ndarray, np.ndarray, np.ndarray, float]

_EPS = 1e-6
# What "Confident: can be applied without review" promises: at least this share of the
# answers at or above the auto threshold are right (chosen by conformal risk control, and
# watched in production against the decisions operators make).
AUTO_TARGET_PRECISION = 0.995


class Review(StrEnum):
    """What the thresholds make of a recommendation."""

    AUTO = "auto"  # confident enough to apply without an operator
    CONFIRM = "confirm"  # recommended, an operator confirms
    OPERATOR = "operator"  # no confident recommendation: an operator decides


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The analyst's two dials: at or above `auto` a recommendation is applied on its own;
    below `review` it is not even offered as a default."""

    auto: float = 0.95
    review: float = 0.6

    def __post_init__(self) -> None:
        if not 0 <= self.review <= self.auto <= 1:
            raise ValueError("thresholds: need 0 <= review <= auto <= 1")

    def review_for(self, confidence: float) -> Review:
        if confidence >= self.auto:
            return Review.AUTO
        return Review.CONFIRM if confidence >= self.review else Review.OPERATOR


def make_pipeline(C: float = 1.0, class_weight: str | None = None) -> Pipeline:
    """The estimator analysts tune (`C`: inverse regularisation strength)."""
    # scikit-learn is imported by what fits or loads a pipeline, not by what only ranks
    # with a stored linear form (`onboard match` starts faster).
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline(
        [
            ("scale", StandardScaler()),
            ("logit", LogisticRegression(C=C, class_weight=class_weight, max_iter=2_000)),
        ]
    )


@dataclass(frozen=True)
class Model:
    """A fitted pipeline plus what turns its output into decisions.

    `members` are the same estimator fitted on parts of the history (cross-validation
    folds, or groups of training worlds): where they disagree with each other about an
    order, the model's own certainty is not to be trusted. `support` counts, per evidence
    pattern (`matching.familiarity`), the training orders whose right answer looked like
    that: an answer of a pattern seen a handful of times is not promised.
    """

    pipeline: Pipeline
    thresholds: Thresholds = Thresholds()
    none_bias: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)
    members: tuple[Model, ...] = ()
    support: Mapping[str, int] = field(default_factory=dict)
    # How the auto threshold was chosen (`matching.risk_control.RiskControl.to_dict`).
    risk_control: Mapping[str, Any] | None = None
    # The pipeline's linear form when it is known without the pipeline (stored with a
    # version: `matching.persistence`), so ranking needs no scikit-learn object.
    form: LinearForm | None = field(default=None, repr=False, compare=False)

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Each feature's contribution to each row's log-odds (coefficient × scaled value).

        The fitted Pipeline is linear in log-odds; this reads that form off it once and
        applies it with NumPy, which is what `predict_proba` computes minus ~1 ms of
        input validation per call (ranking an order has a 5 ms budget).
        """
        mean, scale, coef, _ = self.linear_form
        return (X - mean) / scale * coef

    def independent_probabilities(self, X: np.ndarray) -> np.ndarray:
        """The pipeline's `predict_proba(X)[:, 1]`, computed from its linear form."""
        *_, intercept = self.linear_form
        return _sigmoid(self.contributions(X).sum(axis=1) + intercept)

    @cached_property
    def linear_form(self) -> LinearForm:
        """(mean, scale, coefficients, intercept): log-odds = coef · (x - mean) / scale + b."""
        if self.form is not None:
            return self.form
        scaler = self.pipeline.named_steps["scale"]
        logit = self.pipeline.named_steps["logit"]
        scale = np.where(scaler.scale_ == 0, 1.0, scaler.scale_)
        return scaler.mean_, scale, logit.coef_[0], float(logit.intercept_[0])

    @property
    def intercept(self) -> float:
        return self.linear_form[3]


@dataclass(frozen=True)
class ScoredCandidate:
    """A candidate's score. Its per-feature dicts are built on first use: every candidate
    is ranked, but only the few shown are explained (`match --all` explains none)."""

    candidate: Candidate
    probability: float  # P(this org is the right one), order-level
    independent: float  # the pipeline's own p_i
    contribution_row: list[float]  # per FEATURE_NAMES
    feature_row: list[float]

    @cached_property
    def contributions(self) -> dict[str, float]:
        """Feature -> log-odds contribution."""
        return dict(zip(FEATURE_NAMES, self.contribution_row, strict=True))

    @cached_property
    def features(self) -> dict[str, float]:
        return dict(zip(FEATURE_NAMES, self.feature_row, strict=True))


@dataclass(frozen=True, slots=True)
class Ranking:
    found: CandidateSet
    ranked: list[ScoredCandidate]  # best first
    p_none: float
    # The least probability any ensemble member gives the answer (1.0: no ensemble).
    agreement: float = 1.0
    # Training orders whose right answer had this answer's evidence pattern (None: the
    # model keeps no such counts, e.g. a model fitted in a notebook).
    familiar: int | None = None
    guard_rails: tuple[GuardRail, ...] = ()  # domain rules holding the answer back

    @property
    def recommended(self) -> ScoredCandidate | None:
        """The best candidate, or None when "create a new organization" is likelier."""
        if self.ranked and self.ranked[0].probability > self.p_none:
            return self.ranked[0]
        return None

    @property
    def model_confidence(self) -> float:
        """The model's probability of its answer, before any doubt is applied."""
        best = self.recommended
        return best.probability if best else self.p_none

    @property
    def familiarity(self) -> float:
        """The most this answer's evidence pattern lets us promise (`familiarity_cap`)."""
        return 1.0 if self.familiar is None else familiarity_cap(self.familiar)

    @property
    def confidence(self) -> float:
        """How sure the answer is: the model's probability, lowered by disagreement
        within the ensemble, an unfamiliar pattern, or a guard rail."""
        doubts = [self.model_confidence, self.agreement, self.familiarity]
        if self.guard_rails:
            doubts.append(GUARDED_CONFIDENCE)
        return min(doubts)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function without overflow for large |z| (tanh saturates)."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def rank(model: Model, found: CandidateSet, now: datetime) -> Ranking:
    return rank_many(model, [found], now)[0]


def rank_many(model: Model, founds: Sequence[CandidateSet], now: datetime) -> list[Ranking]:
    """`rank` for a batch of orders, in the same order: their candidates' features go
    through the model as one matrix, since NumPy's fixed cost per call outweighs the
    arithmetic for one order's handful of candidates. Every row is computed alone, so
    each order's scores are exactly those it gets on its own."""
    rows = [feature_rows(found, now) for found in founds]
    X = np.asarray([row for order_rows in rows for row in order_rows], dtype=float)
    X = X.reshape(-1, len(FEATURE_NAMES))
    if not len(X):  # no candidate at all (a classifier's predict_proba refuses 0 rows)
        return [_doubted(model, Ranking(found, [], 1.0), []) for found in founds]
    independent = _independent(model, X)
    odds = independent / (1 - independent)
    contributions = model.contributions(X)
    none_odds = math.exp(model.none_bias)
    members = []
    for member in model.members:
        member_independent = _independent(member, X)
        member_odds = member_independent / (1 - member_independent)
        members.append((member_odds, math.exp(member.none_bias)))
    features, pulls, p_i = X.tolist(), contributions.tolist(), independent.tolist()
    rankings = []
    start = 0
    for found, order_rows in zip(founds, rows, strict=True):
        end = start + len(order_rows)
        ranking = _ranking(
            found,
            none_odds,
            odds[start:end],
            p_i[start:end],
            features[start:end],
            pulls[start:end],
        )
        votes = [(member_odds[start:end], member_none) for member_odds, member_none in members]
        rankings.append(_doubted(model, ranking, votes))
        start = end
    return rankings


def _independent(model: Model, X: np.ndarray) -> np.ndarray:
    return np.clip(model.independent_probabilities(X), _EPS, 1 - _EPS)


def _doubted(model: Model, ranking: Ranking, votes: list[tuple[np.ndarray, float]]) -> Ranking:
    """`ranking` with what lowers its confidence: the members' least probability of its
    answer, its pattern's support in training, the guard rails it meets."""
    found = ranking.found
    best = ranking.recommended
    answer = None
    if best is not None:
        answer = next(i for i, c in enumerate(found.candidates) if c is best.candidate)
    agreement = 1.0
    for member_odds, member_none in votes:
        total = member_none + float(member_odds.sum())
        chosen = member_none if answer is None else float(member_odds[answer])
        agreement = min(agreement, chosen / total)
    pick = None if best is None else best.candidate
    familiar = model.support.get(evidence_pattern(found, pick), 0) if model.support else None
    return Ranking(
        found,
        ranking.ranked,
        ranking.p_none,
        agreement,
        familiar,
        guard_rails(found, pick),
    )


def _ranking(
    found: CandidateSet,
    none_odds: float,
    odds: np.ndarray,
    independent: list[float],
    features: list[list[float]],
    contributions: list[list[float]],
) -> Ranking:
    """One order's ranking from its rows of the batch."""
    if not found.candidates:
        return Ranking(found, [], 1.0)
    total = none_odds + float(odds.sum())
    scored = [
        ScoredCandidate(candidate, o_i / total, p_i, pulls, values)
        for candidate, o_i, p_i, pulls, values in zip(
            found.candidates, odds.tolist(), independent, contributions, features, strict=True
        )
    ]
    scored.sort(key=lambda s: (-s.probability, s.candidate.org_id))
    return Ranking(found, scored, none_odds / total)
