"""Fitting the scorer on decided orders, with an honest held-out evaluation.

Examples are (order, candidate) pairs labelled 1 for the org that was chosen; candidates
an operator rejected stay in as negatives. The split is grouped by order, so no order
is both trained on and evaluated on. `none_bias` is then fitted on the training orders
(a 1-D search maximising the likelihood of the order-level outcome, "new org" included).

The model `fit` stores is an ensemble: the pipeline fitted on every order, and as its
members the fold models of a grouped cross-validation, whose out-of-fold predictions
also choose the thresholds (`matching.risk_control` for auto, a Wilson scan for review).

The analysts' tools sit beside `fit`: `fit_model` fits any scikit-learn classifier the
same way (the scorer pipeline, or e.g. gradient boosting to compare it with),
`cross_validate` judges one on every order with folds grouped by order, and
`pick_thresholds` reads the two thresholds off held-out predictions.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from statistics import NormalDist
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, GroupShuffleSplit
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from matching.evaluation import (
    LabelledOrder,
    Prediction,
    coverage_curve,
    metrics,
    model_finder,
    predict_all,
    threshold_effect,
)
from matching.familiarity import evidence_pattern
from matching.features import feature_matrix
from matching.risk_control import RiskControl, control_auto_threshold
from matching.scorer import Model, Thresholds, make_pipeline, rank
from matching.transfer import fit_on_prior

BIAS_GRID = np.linspace(-4.0, 4.0, 33)
# Below this many decided orders a held-out split says nothing: the model is fitted on all
# of them and its metrics are in-sample (and flagged so).
MIN_HELD_OUT_ORDERS = 20
ENSEMBLE_FOLDS = 5
REVIEW_PRECISION = 0.9  # what "recommended, an operator confirms" promises


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
    risk_control: RiskControl | None = None  # how the auto threshold was chosen (if it was)

    @property
    def test_orders(self) -> int:
        return len(self.held_out)


def examples(orders: Sequence[LabelledOrder]) -> tuple[np.ndarray, np.ndarray]:
    X, y, _ = grouped_examples(orders)
    return X, y


def grouped_examples(
    orders: Sequence[LabelledOrder],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`examples` plus, for each row, the index in `orders` of the order it belongs to.

    Those are the groups of a grouped split (`GroupKFold`): an order's candidates must
    all fall on the same side, or the model is tested on orders it half saw. Orders
    without any candidate give no row.
    """
    blocks, labels, groups = [], [], []
    for index, order in enumerate(orders):
        X = feature_matrix(order.found, order.now)
        if not len(X):
            continue
        blocks.append(X)
        labels.append([float(c.org_id == order.truth) for c in order.found.candidates])
        groups.append(np.full(len(X), index))
    if not blocks:
        raise ValueError("no order has any candidate: nothing to learn from")
    return np.vstack(blocks), np.concatenate(labels), np.concatenate(groups)


def fit(
    orders: Sequence[LabelledOrder],
    C: float = 1.0,
    thresholds: Thresholds | None = None,
    test_share: float = 0.25,
    seed: int = 0,
    prior: Model | None = None,
) -> TrainingResult:
    """Fit on a grouped split of `orders`, evaluate on the rest, then refit on all of them.

    Both fits are ensembles (`fit_ensemble`, on top of `prior` if given); without
    `thresholds` each chooses its own from its out-of-fold predictions, so the held-out
    metrics judge the whole procedure.
    """
    if not orders:
        raise ValueError("orders: there is no decided order to learn from")
    if len(orders) < MIN_HELD_OUT_ORDERS:
        model = fit_model(orders, make_pipeline(C=C), thresholds, {"C": C}, prior)
        predictions = predict_all(model_finder(model), orders)
        return TrainingResult(
            model=model,
            metrics=metrics(predictions),
            coverage=coverage_curve(predictions),
            thresholds_effect=threshold_effect(predictions, model.thresholds),
            train_orders=len(orders),
            held_out=list(orders),
            in_sample=True,
            params={"C": C, "in_sample": True},
        )
    split = GroupShuffleSplit(n_splits=1, test_size=test_share, random_state=seed)
    train_idx, test_idx = next(split.split(np.zeros(len(orders)), groups=np.arange(len(orders))))
    train = [orders[i] for i in train_idx]
    test = [orders[i] for i in test_idx]
    held_out = fit_ensemble(train, C, thresholds, prior=prior).model
    predictions = predict_all(model_finder(held_out), test)
    final = fit_ensemble(orders, C, thresholds, prior=prior)
    return TrainingResult(
        model=final.model,
        metrics=metrics(predictions),
        coverage=coverage_curve(predictions),
        thresholds_effect=threshold_effect(predictions, final.model.thresholds),
        train_orders=len(train),
        held_out=test,
        params={"C": C, "test_share": test_share, "seed": seed, "prior": prior is not None},
        risk_control=final.risk_control,
    )


@dataclass(frozen=True)
class EnsembleFit:
    model: Model
    risk_control: RiskControl | None  # None: thresholds were given, or no ensemble
    cross_validation: CrossValidation | None  # the members and their held-out predictions


def fit_ensemble(
    orders: Sequence[LabelledOrder],
    C: float = 1.0,
    thresholds: Thresholds | None = None,
    folds: int = ENSEMBLE_FOLDS,
    groups: Sequence[int] | None = None,
    prior: Model | None = None,
) -> EnsembleFit:
    """The scorer fitted on every order, with the fold models of a grouped
    cross-validation as its members and, unless `thresholds` are given, thresholds chosen
    on their out-of-fold predictions (`choose_thresholds`). `groups`: as in
    `cross_validate`; `prior`: as in `fit_model`."""
    params: dict[str, Any] = {"C": C, "prior": prior is not None}
    model = fit_model(orders, make_pipeline(C=C), thresholds, params, prior)
    try:
        folded = cross_validate(
            orders, make_pipeline(C=C), folds=folds, params=params, groups=groups, prior=prior
        )
    except ValueError:  # fewer orders with candidates than folds: no ensemble
        return EnsembleFit(model, None, None)
    control = None
    if thresholds is None:
        thresholds, control = choose_thresholds(folded.predictions)
    ensemble = replace(
        model,
        thresholds=thresholds,
        members=tuple(folded.models),
        risk_control=control.to_dict() if control else None,
    )
    return EnsembleFit(ensemble, control, folded)


def choose_thresholds(
    predictions: Sequence[Prediction], review_precision: float = REVIEW_PRECISION
) -> tuple[Thresholds, RiskControl]:
    """Thresholds from held-out predictions: auto by conformal risk control (precision
    at least `AUTO_TARGET_PRECISION` with `AUTO_CERTAINTY`), review as the lowest below
    it whose band is right `review_precision` of the time (`pick_thresholds`)."""
    control = control_auto_threshold(predictions)
    auto = 1.0 if control.auto is None else control.auto
    review = _lowest_backed(predictions, review_precision, 0.9, THRESHOLD_GRID, below=auto)
    return Thresholds(auto=auto, review=auto if review is None else review), control


def support_of(orders: Sequence[LabelledOrder]) -> dict[str, int]:
    """How many of `orders` had a right answer of each evidence pattern
    (`matching.familiarity`); orders whose right org was not found teach no pattern."""
    counts: Counter[str] = Counter()
    for order in orders:
        candidates = order.found.candidates
        right = next((c for c in candidates if c.org_id == order.truth), None)
        if order.truth is None or right is not None:
            counts[evidence_pattern(order.found, right)] += 1
    return dict(sorted(counts.items()))


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


# --- The analysts' tools: any classifier, grouped cross-validation, thresholds ----------

THRESHOLD_GRID: tuple[float, ...] = tuple(round(i / 100, 2) for i in range(100))


@dataclass(frozen=True)
class ClassifierModel(Model):
    """A `Model` around any scikit-learn classifier with `predict_proba` (gradient boosting,
    a random forest, …), so that it is ranked, evaluated and compared per order exactly
    like the scorer, "new org" bias included.

    It has no linear form, hence no per-feature contributions (they are zeros): fine for
    comparing, but the app explains every recommendation in log-odds per feature, so
    only the scorer pipeline (`make_pipeline`) can be published as a model version.
    """

    def independent_probabilities(self, X: np.ndarray) -> np.ndarray:
        return self.pipeline.predict_proba(X)[:, 1]

    def contributions(self, X: np.ndarray) -> np.ndarray:
        return np.zeros_like(X, dtype=float)


def is_linear_scorer(estimator: BaseEstimator) -> bool:
    """True for the scorer's own form (standardise, then logistic regression), the only
    one the app can explain and a model version can hold."""
    if not isinstance(estimator, Pipeline):
        return False
    steps = estimator.named_steps
    return (
        list(steps) == ["scale", "logit"]
        and isinstance(steps["scale"], StandardScaler)
        and isinstance(steps["logit"], LogisticRegression)
    )


def estimator_params(estimator: BaseEstimator) -> dict[str, Any]:
    """How a model was fitted, as a model version records it: the estimator's kind and its
    scalar hyper-parameters (plain JSON, stored beside the artifact)."""
    if is_linear_scorer(estimator):
        logit = estimator.named_steps["logit"]
        weight = logit.class_weight
        return {
            "estimator": "logistic_regression",
            "C": float(logit.C),
            "class_weight": weight if weight is None or isinstance(weight, str) else str(weight),
        }
    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    scalars = {
        name: value
        for name, value in final.get_params(deep=False).items()
        if value is None or isinstance(value, bool | int | float | str)
    }
    return {"estimator": type(final).__name__, **scalars}


def fit_model(
    orders: Sequence[LabelledOrder],
    estimator: BaseEstimator | None = None,
    thresholds: Thresholds | None = None,
    params: dict[str, Any] | None = None,
    prior: Model | None = None,
) -> Model:
    """Fit a copy of `estimator` (default: the scorer pipeline, C=1) on every (order,
    candidate) pair of `orders`, then the "new org" bias on the same orders.

    With a `prior` (a scorer model, e.g. the shipped one) the scorer learns the orders on
    top of it (`matching.transfer`) instead of from scratch.

    `make_pipeline(C=…, class_weight=…)` gives a `Model` that can be published; any other
    classifier gives a `ClassifierModel`, for comparison. With the default pipeline
    this is what `fit` stores after its held-out evaluation.
    """
    if not orders:
        raise ValueError("orders: there is no decided order to learn from")
    estimator = make_pipeline() if estimator is None else estimator
    X, y = examples(orders)
    if len(set(y.tolist())) < 2:
        raise ValueError("orders: the history needs both chosen and rejected candidates")
    fresh = clone(estimator)
    pipeline = fresh if isinstance(fresh, Pipeline) else Pipeline([("classifier", fresh)])
    if prior is None:
        pipeline.fit(X, y)
    elif is_linear_scorer(pipeline) and type(prior) is Model:
        pipeline = fit_on_prior(pipeline, X, y, prior)
    else:
        raise ValueError("prior: only the scorer pipeline learns on top of a scorer model")
    thresholds = thresholds or Thresholds()
    params = dict(params) if params is not None else estimator_params(estimator)
    kind = Model if is_linear_scorer(pipeline) else ClassifierModel
    unbiased = kind(pipeline, thresholds, 0.0, params)
    return kind(
        pipeline, thresholds, _best_bias(unbiased, orders), params, support=support_of(orders)
    )


@dataclass(frozen=True)
class CrossValidation:
    """Every order predicted by a model that never saw it (folds grouped by order)."""

    orders: list[LabelledOrder]
    predictions: list[Prediction]  # predictions[i] is for orders[i]
    folds: list[int]  # folds[i]: the fold orders[i] was held out in
    models: list[Model]  # one per fold, fitted on the other folds

    def model_of(self, index: int) -> Model:
        """The model that predicted `orders[index]` (to read why it erred)."""
        return self.models[self.folds[index]]

    @property
    def metrics(self) -> dict[str, float]:
        return metrics(self.predictions)

    def fold_metrics(self) -> list[dict[str, float]]:
        """Per-fold metrics: their spread says how much the overall figure can be trusted."""
        return [
            metrics([p for p, f in zip(self.predictions, self.folds, strict=True) if f == fold])
            for fold in range(len(self.models))
        ]


def cross_validate(
    orders: Sequence[LabelledOrder],
    estimator: BaseEstimator | None = None,
    thresholds: Thresholds | None = None,
    folds: int = 5,
    params: dict[str, Any] | None = None,
    seed: int | None = None,
    groups: Sequence[int] | None = None,
    prior: Model | None = None,
) -> CrossValidation:
    """`fit_model` on all folds but one, predict the held-out fold, for every fold.

    The folds are `GroupKFold` over the (order, candidate) pairs grouped by order, so
    each order is predicted exactly once, by a model that saw none of its candidates;
    `seed` shuffles which orders share a fold (None: deterministic, balanced by size).
    Orders without any candidate are "new org" whatever the model: they are spread over
    the folds so that they count in the metrics like any other order. `groups` (one per
    order) keeps whole groups together instead — the worlds of the shipped model's
    history, so that each is predicted by models that never saw its world.
    """
    orders = list(orders)
    X, y, order_of_row = grouped_examples(orders)
    row_groups = order_of_row if groups is None else np.asarray(groups)[order_of_row]
    if len(np.unique(row_groups)) < folds:
        raise ValueError(
            f"folds: {folds} folds need at least {folds} groups of orders with candidates "
            f"(got {len(np.unique(row_groups))})"
        )
    splitter = GroupKFold(n_splits=folds, shuffle=seed is not None, random_state=seed)
    fold_of: dict[int, int] = {}
    fold_of_group: dict[int, int] = {}
    for fold, (_, test_rows) in enumerate(splitter.split(X, y, row_groups)):
        fold_of.update(dict.fromkeys(np.unique(order_of_row[test_rows]).tolist(), fold))
        fold_of_group.update(dict.fromkeys(np.unique(row_groups[test_rows]).tolist(), fold))
    for index in range(len(orders)):
        group = index if groups is None else groups[index]
        fold_of.setdefault(index, fold_of_group.get(group, index % folds))
    models = [
        fit_model(
            [o for i, o in enumerate(orders) if fold_of[i] != fold],
            estimator,
            thresholds,
            params,
            prior,
        )
        for fold in range(folds)
    ]
    predictions = [model_finder(models[fold_of[i]])(order) for i, order in enumerate(orders)]
    return CrossValidation(orders, predictions, [fold_of[i] for i in range(len(orders))], models)


def precision_bound(right: int, total: int, certainty: float = 0.9) -> float:
    """The precision we can vouch for with `certainty` after `right` of `total` were
    right: the lower end of the one-sided Wilson score interval (0.0 with no evidence).

    130 right out of 130 vouches for about 98.8% at 90% certainty, not 100%: a promise
    of 99% automatic precision needs more history than that.
    """
    if total <= 0:
        return 0.0
    z = NormalDist().inv_cdf(certainty) if certainty > 0.5 else 0.0
    share = right / total
    centre = share + z * z / (2 * total)
    spread = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total))
    return max(0.0, (centre - spread) / (1 + z * z / total))


def pick_thresholds(
    predictions: Sequence[Prediction],
    auto_precision: float = 0.99,
    review_precision: float = 0.9,
    certainty: float = 0.9,
    grid: Sequence[float] = THRESHOLD_GRID,
) -> Thresholds:
    """The lowest thresholds of `grid` whose promise the held-out predictions back.

    `auto`: orders at or above it (applied without an operator) are right at least
    `auto_precision` of the time. `review`: recommendations in [review, auto) (offered
    as the default an operator confirms) are right at least `review_precision` of the
    time. "Backed" means the precision we can vouch for with `certainty`
    (`precision_bound`; 0.5 takes the observed share at face value), so a handful of
    lucky orders promises nothing. Each threshold is scanned from the top down: a band
    still too small to vouch for anything does not stop the scan, an observed precision
    below the target does (no lower threshold is taken past a pocket of errors), and a
    threshold only moves down past orders that support it. When nothing can be vouched
    for, `auto` is 1.0 (nothing is automatic) and `review` equals `auto`.
    """
    auto = _lowest_backed(predictions, auto_precision, certainty, grid, None)
    auto = 1.0 if auto is None else auto
    review = _lowest_backed(predictions, review_precision, certainty, grid, auto)
    return Thresholds(auto=auto, review=auto if review is None else review)


def _lowest_backed(
    predictions: Sequence[Prediction],
    target: float,
    certainty: float,
    grid: Sequence[float],
    below: float | None,
) -> float | None:
    """The lowest threshold of `grid` (under `below`) whose band `pick_thresholds` backs."""
    confidence = np.array([p.confidence for p in predictions], dtype=float)
    correct = np.array([p.correct for p in predictions], dtype=bool)
    best, seen = None, 0
    for threshold in sorted(grid, reverse=True):
        if below is not None and threshold >= below:
            continue
        band = confidence >= threshold
        if below is not None:
            band &= confidence < below
        count = int(band.sum())
        if count == seen:
            continue
        seen = count
        right = int(correct[band].sum())
        if right / count < target:
            break
        if precision_bound(right, count, certainty) >= target:
            best = threshold
    return best
