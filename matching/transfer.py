"""Learning an installation's history on top of what the shipped model knows.

Fitted from scratch on 1,500 decisions, the scorer forgets what the shipped model learnt
from tens of thousands of orders in many worlds, most of which still holds (a case the
history has seen a dozen times). So `onboard train` fits the history with the prior
model's log-odds as an offset: one more input, scaled so large that its weight costs
next to nothing in the regularisation, while the usual weights are pulled towards zero —
that is, towards the prior. The history recalibrates the prior (its weight and the
intercept) and moves the other weights only where it has the evidence to.

The prior is linear in the features, so the fitted model is too: it is written back as a
plain scorer pipeline over the usual features (same artifact, same per-feature
explanations), whose log-odds are exactly those of the fit with the offset.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from matching.scorer import Model

# The offset column is the prior's log-odds times this: a weight of 1/100 takes it as is.
_OFFSET_SCALE = 100.0


def prior_logits(X: np.ndarray, prior: Model) -> np.ndarray:
    return prior.contributions(X).sum(axis=1) + prior.intercept


def fit_on_prior(pipeline: Pipeline, X: np.ndarray, y: np.ndarray, prior: Model) -> Pipeline:
    """A fitted copy of the scorer `pipeline` (standardise, logistic regression) that
    learnt `X, y` on top of `prior`."""
    scaler = clone(pipeline.named_steps["scale"]).fit(X)
    offset = prior_logits(X, prior) * _OFFSET_SCALE
    logit = clone(pipeline.named_steps["logit"]).fit(
        np.column_stack([scaler.transform(X), offset]), y
    )
    coef, intercept = logit.coef_[0], float(logit.intercept_[0])
    weight = coef[-1] * _OFFSET_SCALE  # of the prior's log-odds
    prior_mean, prior_scale, prior_coef, prior_intercept = prior.linear_form
    per_feature = prior_coef / prior_scale  # prior log-odds = per_feature · (x - mean) + b
    scale = np.where(scaler.scale_ == 0, 1.0, scaler.scale_)
    folded = LogisticRegression(**logit.get_params())
    folded.classes_ = logit.classes_
    folded.coef_ = (coef[:-1] + weight * per_feature * scale).reshape(1, -1)
    folded.intercept_ = np.array(
        [intercept + weight * (prior_intercept + per_feature @ (scaler.mean_ - prior_mean))]
    )
    folded.n_features_in_ = X.shape[1]
    folded.n_iter_ = logit.n_iter_
    return Pipeline([("scale", scaler), ("logit", folded)])
