"""Fitting the scorer on decided orders, with an honest held-out evaluation.

Examples are (order, candidate) pairs labelled 1 for the org that was chosen; candidates
an operator rejected stay in as negatives. The split is grouped by order, so no order
is both trained on and evaluated on. `none_bias` is then fitted on the training orders
(a 1-D search maximising the likelihood of the order-level outcome, "new org" included).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.model_selection import GroupShuffleSplit

from matching.evaluation import (
    LabelledOrder,
    coverage_curve,
    metrics,
    model_finder,
    predict_all,
    threshold_effect,
)
from matching.features import feature_matrix
from matching.scorer import Model, Thresholds, make_pipeline, rank

BIAS_GRID = np.linspace(-4.0, 4.0, 33)
# Below this many decided orders a held-out split says nothing: the model is fitted on all
# of them and its metrics are in-sample (and flagged so).
MIN_HELD_OUT_ORDERS = 20


@dataclass(frozen=True)
class TrainingResult:
    model: Model
    metrics: dict[str, float]
    coverage: list[dict[str, float]]
    thresholds_effect: dict[str, float]
    train_orders: int
    held_out: list[LabelledOrder]  # the test orders: other models are judged on them too
    in_sample: bool = False  # too few orders to hold any out: metrics are on the training data
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def test_orders(self) -> int:
        return len(self.held_out)


def examples(orders: Sequence[LabelledOrder]) -> tuple[np.ndarray, np.ndarray]:
    blocks, labels = [], []
    for order in orders:
        X = feature_matrix(order.found, order.now)
        if not len(X):
            continue
        blocks.append(X)
        labels.append([float(c.org_id == order.truth) for c in order.found.candidates])
    if not blocks:
        raise ValueError("no order has any candidate: nothing to learn from")
    return np.vstack(blocks), np.concatenate(labels)


def fit(
    orders: Sequence[LabelledOrder],
    C: float = 1.0,
    thresholds: Thresholds | None = None,
    test_share: float = 0.25,
    seed: int = 0,
) -> TrainingResult:
    """Fit on a grouped split of `orders`, evaluate on the rest, then refit on all of them."""
    if not orders:
        raise ValueError("orders: there is no decided order to learn from")
    thresholds = thresholds or Thresholds()
    if len(orders) < MIN_HELD_OUT_ORDERS:
        model = _fit_on(orders, C, thresholds)
        predictions = predict_all(model_finder(model), orders)
        return TrainingResult(
            model=model,
            metrics=metrics(predictions),
            coverage=coverage_curve(predictions),
            thresholds_effect=threshold_effect(predictions, thresholds),
            train_orders=len(orders),
            held_out=list(orders),
            in_sample=True,
            params={"C": C, "in_sample": True},
        )
    split = GroupShuffleSplit(n_splits=1, test_size=test_share, random_state=seed)
    train_idx, test_idx = next(split.split(np.zeros(len(orders)), groups=np.arange(len(orders))))
    train = [orders[i] for i in train_idx]
    test = [orders[i] for i in test_idx]
    held_out = _fit_on(train, C, thresholds)
    predictions = predict_all(model_finder(held_out), test)
    final = _fit_on(orders, C, thresholds)
    return TrainingResult(
        model=final,
        metrics=metrics(predictions),
        coverage=coverage_curve(predictions),
        thresholds_effect=threshold_effect(predictions, thresholds),
        train_orders=len(train),
        held_out=test,
        params={"C": C, "test_share": test_share, "seed": seed},
    )


def _fit_on(orders: Sequence[LabelledOrder], C: float, thresholds: Thresholds) -> Model:
    X, y = examples(orders)
    if len(set(y.tolist())) < 2:
        raise ValueError("orders: the history needs both chosen and rejected candidates")
    pipeline = make_pipeline(C=C).fit(X, y)
    model = Model(pipeline, thresholds, 0.0, {"C": C})
    return Model(pipeline, thresholds, _best_bias(model, orders), {"C": C})


def _best_bias(model: Model, orders: Sequence[LabelledOrder]) -> float:
    """The "new org" log-odds that best explains the orders' outcomes."""
    odds_per_order = []
    for order in orders:
        ranking = rank(model, order.found, order.now)
        # Recover each candidate's independent odds from the bias-free ranking.
        odds = {s.candidate.org_id: s.independent / (1 - s.independent) for s in ranking.ranked}
        odds_per_order.append((odds, order.truth))
    best, best_ll = 0.0, -math.inf
    for bias in BIAS_GRID:
        none_odds = math.exp(bias)
        ll = 0.0
        for odds, truth in odds_per_order:
            total = none_odds + sum(odds.values())
            chosen = none_odds if truth is None else odds.get(truth, 0.0)
            ll += math.log(max(chosen / total, 1e-9))
        if ll > best_ll:
            best, best_ll = float(bias), ll
    return best
