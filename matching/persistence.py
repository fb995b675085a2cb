"""Storing a model without ever executing code on load: skops, with an allow-list.

`skops.io.load` only builds the types it is told to trust; we trust exactly the
scikit-learn and NumPy types a scorer Pipeline is made of and refuse anything else, so a
tampered artifact fails loudly instead of running. The artifact holds the pipeline and
its ensemble members' pipelines; the decision settings (thresholds, none biases, the
evidence patterns' support, how the thresholds were chosen) travel beside it as JSON.

A version trained before a feature was added still loads: the new feature enters its
pipelines with weight zero (and identity scaling), so it scores exactly as it did.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import skops.io as sio
from sklearn.pipeline import Pipeline

from matching.errors import MatchingError
from matching.features import FEATURE_NAMES
from matching.scorer import Model, Thresholds

FORMAT = "skops"
_TRUSTED_PREFIXES = ("sklearn.", "numpy.")
DEFAULT_ARTIFACT = "default.skops"
DEFAULT_SETTINGS = "default.json"


class UntrustedModel(MatchingError):
    """The artifact holds types a scorer does not need: refused, not loaded."""


def dump(model: Model) -> bytes:
    if not model.members:
        return sio.dumps(model.pipeline)
    return sio.dumps({"pipeline": model.pipeline, "members": [m.pipeline for m in model.members]})


def settings_of(model: Model) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "thresholds": {"auto": model.thresholds.auto, "review": model.thresholds.review},
        "none_bias": model.none_bias,
        "params": model.params,
        "features": list(FEATURE_NAMES),
    }
    if model.members:
        settings["members_none_bias"] = [m.none_bias for m in model.members]
    if model.support:
        settings["support"] = dict(model.support)
    if model.risk_control is not None:
        settings["risk_control"] = dict(model.risk_control)
    return settings


def load(artifact: bytes, settings: dict[str, Any]) -> Model:
    trained_on = list(settings.get("features", FEATURE_NAMES))
    if not _is_older_list(trained_on):
        raise MatchingError("the model was trained on other features than this version computes")
    untrusted = sio.get_untrusted_types(data=artifact)
    refused = [t for t in untrusted if not t.startswith(_TRUSTED_PREFIXES)]
    if refused:
        raise UntrustedModel(f"refusing to load types: {', '.join(sorted(refused))}")
    loaded = sio.loads(artifact, trusted=untrusted)
    if isinstance(loaded, dict):
        pipeline, member_pipelines = loaded["pipeline"], list(loaded.get("members", []))
    else:
        pipeline, member_pipelines = loaded, []
    biases = [float(b) for b in settings.get("members_none_bias", [])]
    if len(biases) != len(member_pipelines):
        raise MatchingError("the model's members and their settings do not match")
    model = Model(
        _widened(pipeline, trained_on),
        Thresholds(**settings.get("thresholds", {})),
        float(settings.get("none_bias", 0.0)),
        dict(settings.get("params", {})),
        support={str(k): int(v) for k, v in settings.get("support", {}).items()},
        risk_control=settings.get("risk_control"),
    )
    members = tuple(
        Model(_widened(p, trained_on), model.thresholds, bias)
        for p, bias in zip(member_pipelines, biases, strict=True)
    )
    return replace(model, members=members)


def _is_older_list(trained_on: list[str]) -> bool:
    """True when `trained_on` is this version's features, or an earlier subset of them
    in the same order (features are only ever added)."""
    current = iter(FEATURE_NAMES)
    return all(name in current for name in trained_on)


def _widened(pipeline: Pipeline, trained_on: list[str]) -> Pipeline:
    """`pipeline` over every current feature: those it never saw weigh nothing."""
    if trained_on == list(FEATURE_NAMES):
        return pipeline
    if not isinstance(pipeline, Pipeline) or list(pipeline.named_steps) != ["scale", "logit"]:
        raise MatchingError("the model was trained on other features than this version computes")
    scaler, logit = pipeline.named_steps["scale"], pipeline.named_steps["logit"]
    where = [FEATURE_NAMES.index(name) for name in trained_on]
    width = len(FEATURE_NAMES)

    def spread(values: np.ndarray, fill: float) -> np.ndarray:
        out = np.full(width, fill, dtype=float)
        out[where] = values
        return out

    scaler.mean_ = spread(scaler.mean_, 0.0)
    scaler.scale_ = spread(scaler.scale_, 1.0)
    if getattr(scaler, "var_", None) is not None:
        scaler.var_ = spread(scaler.var_, 1.0)
    scaler.n_features_in_ = width
    logit.coef_ = spread(logit.coef_[0], 0.0).reshape(1, width)
    logit.n_features_in_ = width
    for step in (scaler, logit):
        if hasattr(step, "feature_names_in_"):
            del step.feature_names_in_
    return pipeline


@cache
def load_default() -> Model:
    """The model that ships with the project (trained on families of generated worlds)."""
    package = resources.files("matching.models")
    artifact = package.joinpath(DEFAULT_ARTIFACT).read_bytes()
    settings = json.loads(package.joinpath(DEFAULT_SETTINGS).read_text(encoding="utf-8"))
    return load(artifact, settings)
