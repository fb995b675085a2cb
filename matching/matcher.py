"""The organization finder's answer for one order: outcome, recommendation, candidates.

`match_order` is the whole pure pipeline: candidates from the source, features, the
model's ranking, the seed's outcome, and explanations (`match_orders`: the same for a
batch). `MatchResult.to_dict` is the JSON contract of `onboard match` (keys are stable;
add, never rename).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from matching.candidates import (
    CandidateSet,
    CandidateSource,
    OrderQuery,
    Source,
    find_candidates_of,
)
from matching.explain import contrast, doubts, evidence, pattern_of, reasons
from matching.scorer import Model, Ranking, Review, Thresholds, rank_many
from matching.vocabulary import Outcome

MAX_CANDIDATES = 10
_DOMAIN_EVIDENCE = {Source.DOMAIN, Source.MEMBERS, Source.PARTNER}


def outcome_of(found: CandidateSet) -> Outcome:
    """The seed's three outcomes, from what was found (not from the score).

    Exact: the e-mail belongs to an org, unless it is the ordering partner's own address.
    Domain: orgs hold the e-mail's domain, have members on it, or are managed by the
    ordering partner under a similar name. None: nothing but, perhaps, name look-alikes.
    """
    if found.exact_org_id is not None and not found.partner_own_address:
        return Outcome.EXACT
    if any(c.sources & _DOMAIN_EVIDENCE for c in found.candidates):
        return Outcome.DOMAIN
    return Outcome.NONE


@dataclass(frozen=True, slots=True)
class MatchResult:
    ranking: Ranking
    outcome: Outcome
    review: Review
    now: datetime

    @property
    def order_id(self) -> str:
        return self.ranking.found.order.order_id

    @property
    def recommended_org_id(self) -> str | None:
        best = self.ranking.recommended
        return best.candidate.org_id if best else None

    @property
    def confidence(self) -> float:
        return self.ranking.confidence

    def to_dict(self) -> dict[str, Any]:
        found = self.ranking.found
        return {
            "order_id": self.order_id,
            "outcome": self.outcome.value,
            "recommended_org_id": self.recommended_org_id,
            "confidence": round(self.confidence, 4),
            "review": self.review.value,
            "p_new_org": round(self.ranking.p_none, 4),
            "model_confidence": round(self.ranking.model_confidence, 4),
            "agreement": round(self.ranking.agreement, 4),
            "familiarity": None
            if self.ranking.familiar is None
            else {
                "pattern": pattern_of(self.ranking),
                "support": self.ranking.familiar,
                "limit": round(self.ranking.familiarity, 4),
            },
            "guard_rails": [
                {"rule": rail.rule, "reason": rail.reason} for rail in self.ranking.guard_rails
            ],
            "doubts": doubts(self.ranking),
            "why_first": contrast(self.ranking, self.now),
            "candidates": [
                {
                    "org_id": scored.candidate.org_id,
                    "name": scored.candidate.facts.name,
                    "score": round(scored.probability, 4),
                    "evidence": evidence(found, scored.candidate, self.now),
                    "reasons": reasons(scored),
                    "found_by": sorted(s.value for s in scored.candidate.sources),
                }
                for scored in self.ranking.ranked[:MAX_CANDIDATES]
            ],
        }


def match_order(
    order: OrderQuery, source: CandidateSource, model: Model, now: datetime
) -> MatchResult:
    return match_orders([order], source, model, now)[0]


def match_orders(
    orders: Sequence[OrderQuery], source: CandidateSource, model: Model, now: datetime
) -> list[MatchResult]:
    """`match_order` for a batch, in the same order and with the same answers: the batch
    shares one read of its orgs' facts and one pass of the model (`match --all`)."""
    founds = find_candidates_of(orders, source)
    return [
        MatchResult(ranking, outcome_of(found), review_of(ranking, model.thresholds), now)
        for found, ranking in zip(founds, rank_many(model, founds, now), strict=True)
    ]


def review_of(ranking: Ranking, thresholds: Thresholds) -> Review:
    """What the thresholds make of the ranking; a guard rail never lets it be automatic,
    whatever an analyst set the thresholds to."""
    review = thresholds.review_for(ranking.confidence)
    return Review.CONFIRM if review is Review.AUTO and ranking.guard_rails else review
