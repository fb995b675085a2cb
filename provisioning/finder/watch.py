"""The model in production: how its confident band holds up on the decisions operators make.

Every decision records what the finder answered at that moment (`Order.recommended_*`,
written by `orders.map_org` and `orders.create_org`; cleared with the decision when it
is reversed). For one model version, since it was activated, this measures:

- its confident ("auto") band: how many of those answers were decided, how many the
  decision agreed with, the realized precision with a two-sided 90% Wilson interval,
  against the precision the auto threshold promises (`AUTO_TARGET_PRECISION`);
- the work it took off operators: the share of its decided orders it answered
  confidently, and the share it offered for confirmation.

Agreement: the operator mapped the order to the recommended org, or the answer was
"create a new organization" and a new org was created. Operators see the answer before
they decide, so agreement is, if anything, generous to the model; blind reviews are the
unbiased check. The recorded answer is measured, not a re-ranking of the history: it is
what operators were shown, by the model that was in use, with the evidence of that day.

Status of the band:

- `too_few`: fewer than `MIN_AUTO_ORDERS` confident answers decided yet; the interval is
  too wide to say anything.
- `below_target`: the interval's upper end is below the target: we are confident (95%,
  one-sided) that the band is less precise than promised. This is the flag: it asks for
  a higher auto threshold or a better model. Wilson's upper end is a little eager this
  close to 100%: a band exactly at 99.5% is flagged about 1 time in 7 after 30 answers
  (a single wrong one), 1 in 11 after 100 and 1 in 15 after 1,000, against the nominal
  1 in 20; a band really under its target is flagged sooner for it.
- `on_target`: otherwise, the decisions are consistent with the target. That is not
  proof: vouching for 99.5% takes some 540 right answers in a row (`vouched` says when
  the interval's lower end has reached the target).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from matching.scorer import AUTO_TARGET_PRECISION, Review
from matching.training import precision_bound
from provisioning.access import Actor, Permission, reading
from provisioning.db import Database, count_where
from provisioning.finder.active import DEFAULT_VERSION, active_version_of
from provisioning.models import AuditEvent, ModelVersion, Order
from provisioning.states import Decision

# Below this many decided confident answers the status is "too few": even at 30, 29
# right of 30 spans 86%-99% (90% interval), so fewer say nothing at all.
MIN_AUTO_ORDERS = 30
INTERVAL = 0.9  # two-sided: each end is a one-sided Wilson bound at 95%
_EACH_END = (1 + INTERVAL) / 2


class BandStatus(StrEnum):
    TOO_FEW = "too_few"
    ON_TARGET = "on_target"
    BELOW_TARGET = "below_target"


@dataclass(frozen=True, slots=True)
class InProduction:
    """A model version's record on the decisions made since it was activated."""

    version: int | str
    since: datetime | None  # None: since the installation's first decision
    decided: int  # decided orders it answered in the period
    auto_orders: int  # of those, answered confidently (the auto band)
    right: int  # confident answers the decision agreed with
    confirm_orders: int
    operator_orders: int
    target: float = AUTO_TARGET_PRECISION

    @property
    def precision(self) -> float | None:
        return self.right / self.auto_orders if self.auto_orders else None

    @property
    def low(self) -> float | None:
        if not self.auto_orders:
            return None
        return precision_bound(self.right, self.auto_orders, _EACH_END)

    @property
    def high(self) -> float | None:
        if not self.auto_orders:
            return None
        # The Wilson interval is symmetric in right and wrong: its upper end is one minus
        # the lower end for the wrong answers.
        return 1.0 - precision_bound(self.auto_orders - self.right, self.auto_orders, _EACH_END)

    @property
    def status(self) -> BandStatus:
        if self.auto_orders < MIN_AUTO_ORDERS:
            return BandStatus.TOO_FEW
        if (self.high or 0.0) < self.target:
            return BandStatus.BELOW_TARGET
        return BandStatus.ON_TARGET

    @property
    def vouched(self) -> bool:
        """The interval's lower end reaches the target: the band is shown to keep it."""
        low = self.low
        return self.status is not BandStatus.TOO_FEW and low is not None and low >= self.target

    def share(self, orders: int) -> float | None:
        return orders / self.decided if self.decided else None

    def to_dict(self) -> dict[str, Any]:
        """The `in_production` entry of `onboard evaluate --format json` (keys are a
        contract: add, never rename)."""
        return {
            "version": self.version,
            "since": self.since.isoformat() if self.since else None,
            "decided": self.decided,
            "auto_orders": self.auto_orders,
            "right": self.right,
            "wrong": self.auto_orders - self.right,
            "precision": _rounded(self.precision),
            "low": _rounded(self.low),
            "high": _rounded(self.high),
            "interval": INTERVAL,
            "target": self.target,
            "status": self.status.value,
            "vouched": self.vouched,
            "min_auto_orders": MIN_AUTO_ORDERS,
            "share_auto": _rounded(self.share(self.auto_orders)),
            "confirm_orders": self.confirm_orders,
            "share_confirm": _rounded(self.share(self.confirm_orders)),
            "operator_orders": self.operator_orders,
            "share_operator": _rounded(self.share(self.operator_orders)),
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


# Did the decision agree with the recorded answer?
_CREATED = or_(Order.new_org.is_(True), Order.decision == Decision.CREATED_ORG.value)
AGREED = or_(
    and_(_CREATED, Order.recommended_org_id.is_(None)),
    and_(~_CREATED, Order.recommended_org_id == Order.org_id),
)


def in_production(session: Session, version: int | str | None = None) -> InProduction:
    """The record of `version` (default: the active one; "default": the shipped model)
    on the decisions made since it was activated, in one grouped query."""
    version = active_version_of(session) if version is None else version
    since = activated_at(session, version)
    stmt = (
        select(Order.recommended_review, func.count(), count_where(AGREED))
        .where(
            Order.decision.is_not(None),
            Order.recommended_by_model == str(version),
            Order.recommended_review.is_not(None),
        )
        .group_by(Order.recommended_review)
    )
    if since is not None:
        stmt = stmt.where(Order.decided_at >= since)
    bands = {review: (int(n), int(agreed)) for review, n, agreed in session.execute(stmt)}
    auto, right = bands.get(Review.AUTO.value, (0, 0))
    return InProduction(
        version=version,
        since=since,
        decided=sum(n for n, _agreed in bands.values()),
        auto_orders=auto,
        right=right,
        confirm_orders=bands.get(Review.CONFIRM.value, (0, 0))[0],
        operator_orders=bands.get(Review.OPERATOR.value, (0, 0))[0],
    )


def activated_at(session: Session, version: int | str) -> datetime | None:
    """When `version` last became the active one: stored active or activated
    (`ModelVersion.activated_at`), or made active again by a rollback (its audit event).
    The shipped model is active from the start unless rolled back to: None then."""
    times: list[datetime] = []
    if str(version) != DEFAULT_VERSION:
        stored = session.scalar(
            select(ModelVersion.activated_at).where(ModelVersion.version == int(version))
        )
        if stored is not None:
            times.append(stored)
    rolled_back = session.scalar(
        select(func.max(AuditEvent.at)).where(
            AuditEvent.action == "model.rollback",
            AuditEvent.entity_type == "model_version",
            AuditEvent.entity_id == str(version),
        )
    )
    if rolled_back is not None:
        times.append(rolled_back)
    return max(times) if times else None


def in_production_for(
    db: Database, viewer: Actor, version: int | str | None = None
) -> InProduction:
    """`in_production`, for a viewer who may read the models."""
    with reading(db, viewer, Permission.READ_MODELS) as session:
        return in_production(session, version)
