"""Choosing the auto-apply threshold with conformal risk control (MAPIE's Learn Then
Test): the promise "answers at or above it are right at least 99.5% of the time" holds
with a stated certainty on orders the model never saw, not merely on average.

The calibration data are held-out predictions (each order predicted by a model fitted
without it: cross-validation folds, or leave-families-out for the shipped model). Each
threshold of a fixed grid is a hypothesis "precision above it is below the target"; the
thresholds are tested from the strictest down (fixed-sequence testing, so no multiplicity
correction is paid for the grid) and the lowest one whose hypothesis is rejected at
`certainty` is chosen. The sequence starts at the strictest threshold with enough answers
above it that, all right, they could reject it at all (`least_evidence`: 460 answers for
99.5% at 90%): a band too small to prove anything would end the sequence before it began.

Answers a guard rail holds back sit at or below `GUARDED_CONFIDENCE`, below the grid.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from matching.evaluation import Prediction
from matching.guard_rails import GUARDED_CONFIDENCE
from matching.scorer import AUTO_TARGET_PRECISION

AUTO_CERTAINTY = 0.9
# Fixed a priori (a grid read off the data would void the guarantee): coarse in the
# middle, fine near 1, where a confident model's answers crowd.
AUTO_GRID: tuple[float, ...] = tuple(
    sorted(
        {round(float(t), 6) for t in np.linspace(GUARDED_CONFIDENCE + 0.01, 0.99, 49)}
        | {round(float(1 - 10**e), 6) for e in np.linspace(-2, -4, 21)}
    )
)


@dataclass(frozen=True, slots=True)
class RiskControl:
    """What the auto threshold promises and what it was chosen on (stored with a model
    version and shown in `onboard evaluate`)."""

    auto: float | None  # None: no threshold of the grid can keep the promise
    target: float
    certainty: float
    calibration_orders: int
    auto_share: float  # of the calibration orders, at or above `auto`
    auto_precision: float  # observed among them

    def to_dict(self) -> dict[str, float | int | None]:
        return {
            "auto": self.auto,
            "target": self.target,
            "certainty": self.certainty,
            "calibration_orders": self.calibration_orders,
            "auto_share": round(self.auto_share, 4),
            "auto_precision": round(self.auto_precision, 4),
            "method": "MAPIE BinaryClassificationController, precision, fixed sequence",
        }


def least_evidence(target: float, certainty: float) -> int:
    """How many answers, all right, it takes to show precision above `target` with
    `certainty` (the smallest n with target**n <= 1 - certainty)."""
    return math.ceil(math.log(1 - certainty) / math.log(target))


def control_auto_threshold(
    predictions: Sequence[Prediction],
    target: float = AUTO_TARGET_PRECISION,
    certainty: float = AUTO_CERTAINTY,
    grid: Sequence[float] = AUTO_GRID,
) -> RiskControl:
    """The lowest threshold of `grid` whose answers' precision is at least `target` with
    `certainty`, judged on the held-out `predictions`."""
    confidence = np.array([p.confidence for p in predictions], dtype=float)
    correct = np.array([p.correct for p in predictions], dtype=int)
    auto: float | None = None
    enough = least_evidence(target, certainty)
    testable = [t for t in grid if int((confidence >= t).sum()) >= enough]
    if testable and correct.any():
        # MAPIE (and the pytest it imports) only when a threshold is chosen: ranking an
        # order imports this module too.
        from mapie.risk_control import BinaryClassificationController

        def answer_probability(index: np.ndarray) -> np.ndarray:
            chosen = confidence[np.asarray(index, dtype=int)]
            return np.column_stack([1 - chosen, chosen])

        controller = BinaryClassificationController(
            answer_probability,
            risk="precision",
            target_level=target,
            confidence_level=certainty,
            list_predict_params=np.asarray(testable, dtype=float),
            fwer_method="fixed_sequence",
        )
        with warnings.catch_warnings():  # "no threshold controls the risk" is our None
            warnings.simplefilter("ignore", UserWarning)
            controller.calibrate(np.arange(len(predictions)), correct)
        best = controller.best_predict_param
        auto = None if best is None else round(float(best), 6)
    above = confidence >= auto if auto is not None else np.zeros(len(confidence), dtype=bool)
    count = int(above.sum())
    return RiskControl(
        auto=auto,
        target=target,
        certainty=certainty,
        calibration_orders=len(predictions),
        auto_share=count / len(predictions) if len(predictions) else 0.0,
        auto_precision=float(correct[above].mean()) if count else 0.0,
    )
