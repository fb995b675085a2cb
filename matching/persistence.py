"""Storing a model without ever executing code on load: skops, with an allow-list.

`skops.io.load` only builds the types it is told to trust; we trust exactly the
scikit-learn and NumPy types a scorer Pipeline is made of and refuse anything else, so a
tampered artifact fails loudly instead of running. The artifact holds the pipeline and
its ensemble members' pipelines; the decision settings (thresholds, none biases, the
evidence patterns' support, how the thresholds were chosen) travel beside it as JSON.

A version trained before a feature was added still loads: the new feature enters its
pipelines with weight zero (and identity scaling), so it scores exactly as it did.

The settings also hold each pipeline's linear form (means, scales, weights, intercept):
ranking needs nothing else, so a stored version ranks without scikit-learn or skops
being imported, and its pipelines are deserialised only when something asks for them
(`DeferredPipeline`: retraining on top of it, a notebook inspecting it).
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np

from matching.errors import MatchingError
from matching.features import FEATURE_NAMES
from matching.scorer import LinearForm, Model, Thresholds

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

FORMAT = "skops"
_TRUSTED_PREFIXES = ("sklearn.", "numpy.")
DEFAULT_ARTIFACT = "default.skops"
DEFAULT_SETTINGS = "default.json"


class UntrustedModel(MatchingError):
    """The artifact holds types a scorer does not need: refused, not loaded."""


class DeferredPipeline:
    """A stored pipeline, deserialised (allow-list checked) on first use: ranking reads
    the linear form from the settings and never needs it."""

    def __init__(self, artifact: bytes, index: int | None, trained_on: list[str]) -> None:
        self._artifact, self._index, self._trained_on = artifact, index, trained_on
        self._loaded: Pipeline | None = None

    def loaded(self) -> Pipeline:
        if self._loaded is None:
            pipeline, members = _deserialised(self._artifact)
            chosen = pipeline if self._index is None else members[self._index]
            self._loaded = _widened(chosen, self._trained_on)
        return self._loaded

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loaded(), name)


def _real(pipeline: Any) -> Any:
    return pipeline.loaded() if isinstance(pipeline, DeferredPipeline) else pipeline


def dump(model: Model) -> bytes:
    import skops.io as sio

    if not model.members:
        return sio.dumps(_real(model.pipeline))
    members = [_real(m.pipeline) for m in model.members]
    return sio.dumps({"pipeline": _real(model.pipeline), "members": members})


def settings_of(model: Model) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "thresholds": {"auto": model.thresholds.auto, "review": model.thresholds.review},
        "none_bias": model.none_bias,
        "params": model.params,
        "features": list(FEATURE_NAMES),
    }
    if model.members:
        settings["members_none_bias"] = [m.none_bias for m in model.members]
    if all(_is_linear(m) for m in (model, *model.members)):
        settings["linear"] = {
            "pipeline": _form_dict(model.linear_form),
            "members": [_form_dict(m.linear_form) for m in model.members],
        }
    if model.support:
        settings["support"] = dict(model.support)
    if model.risk_control is not None:
        settings["risk_control"] = dict(model.risk_control)
    return settings


def sealed(settings: dict[str, Any], artifact: bytes) -> dict[str, Any]:
    """`settings` bound to the artifact stored with them: `load` trusts the stored linear
    forms (and defers the pipelines) only for that very artifact."""
    if "linear" not in settings:
        return settings
    digest = hashlib.sha256(artifact).hexdigest()
    return {**settings, "linear": {**settings["linear"], "artifact_sha256": digest}}


def load(artifact: bytes, settings: dict[str, Any], deferred: bool = True) -> Model:
    """The model `artifact` and `settings` describe. Sealed settings (`sealed`) rank from
    their linear forms and deserialise the pipelines on first use; anything else — no
    forms, an artifact they were not sealed with, or `deferred=False` — is deserialised
    now, so a tampered artifact is refused before it is used."""
    trained_on = list(settings.get("features", FEATURE_NAMES))
    if not _is_older_list(trained_on):
        raise MatchingError("the model was trained on other features than this version computes")
    biases = [float(b) for b in settings.get("members_none_bias", [])]
    linear = settings.get("linear")
    trusted = (
        deferred
        and linear is not None
        and linear.get("artifact_sha256") == hashlib.sha256(artifact).hexdigest()
    )
    if trusted:
        # The forms rank; the pipelines wait until asked for (an untrusted artifact still
        # fails loudly then, and `_checked_artifact` loads every new one before storing).
        forms = [_form_of(linear["pipeline"], trained_on)]
        forms += [_form_of(f, trained_on) for f in linear.get("members", [])]
        pipelines: list[Any] = [DeferredPipeline(artifact, None, trained_on)]
        pipelines += [DeferredPipeline(artifact, i, trained_on) for i in range(len(forms) - 1)]
    else:
        pipeline, members = _deserialised(artifact)
        pipelines = [_widened(p, trained_on) for p in (pipeline, *members)]
        forms = [None] * len(pipelines)
    if len(biases) != len(pipelines) - 1:
        raise MatchingError("the model's members and their settings do not match")
    thresholds = Thresholds(**settings.get("thresholds", {}))
    members = tuple(
        Model(p, thresholds, bias, form=form)
        for p, bias, form in zip(pipelines[1:], biases, forms[1:], strict=True)
    )
    return Model(
        pipelines[0],
        thresholds,
        float(settings.get("none_bias", 0.0)),
        dict(settings.get("params", {})),
        members=members,
        support={str(k): int(v) for k, v in settings.get("support", {}).items()},
        risk_control=settings.get("risk_control"),
        form=forms[0],
    )


def _deserialised(artifact: bytes) -> tuple[Any, list[Any]]:
    """The artifact's pipeline and members, loading only allow-listed types."""
    import skops.io as sio

    untrusted = sio.get_untrusted_types(data=artifact)
    refused = [t for t in untrusted if not t.startswith(_TRUSTED_PREFIXES)]
    if refused:
        raise UntrustedModel(f"refusing to load types: {', '.join(sorted(refused))}")
    loaded = sio.loads(artifact, trusted=untrusted)
    if isinstance(loaded, dict):
        return loaded["pipeline"], list(loaded.get("members", []))
    return loaded, []


def _is_linear(model: Model) -> bool:
    """The scorer's own form (standardise, logistic regression): it has a linear form."""
    if model.form is not None:
        return True
    return list(getattr(_real(model.pipeline), "named_steps", {})) == ["scale", "logit"]


def _form_dict(form: LinearForm) -> dict[str, Any]:
    mean, scale, coef, intercept = form
    return {
        "mean": [float(v) for v in mean],
        "scale": [float(v) for v in scale],
        "coef": [float(v) for v in coef],
        "intercept": float(intercept),
    }


def _form_of(stored: dict[str, Any], trained_on: list[str]) -> LinearForm:
    """A stored linear form over every current feature (those it never saw weigh 0)."""
    return (
        _onto_current(stored["mean"], trained_on, 0.0),
        _onto_current(stored["scale"], trained_on, 1.0),
        _onto_current(stored["coef"], trained_on, 0.0),
        float(stored["intercept"]),
    )


def _onto_current(values: Any, trained_on: list[str], fill: float) -> np.ndarray:
    """Per-feature `values` of a version trained on `trained_on`, placed over every
    current feature; the features it never saw get `fill` (weight 0, identity scaling)."""
    out = np.full(len(FEATURE_NAMES), fill, dtype=float)
    out[[FEATURE_NAMES.index(name) for name in trained_on]] = values
    return out


def _is_older_list(trained_on: list[str]) -> bool:
    """True when `trained_on` is this version's features, or an earlier subset of them
    in the same order (features are only ever added)."""
    current = iter(FEATURE_NAMES)
    return all(name in current for name in trained_on)


def _widened(pipeline: Pipeline, trained_on: list[str]) -> Pipeline:
    """`pipeline` over every current feature: those it never saw weigh nothing."""
    if trained_on == list(FEATURE_NAMES):
        return pipeline
    if list(getattr(pipeline, "named_steps", {})) != ["scale", "logit"]:
        raise MatchingError("the model was trained on other features than this version computes")
    scaler, logit = pipeline.named_steps["scale"], pipeline.named_steps["logit"]
    width = len(FEATURE_NAMES)
    scaler.mean_ = _onto_current(scaler.mean_, trained_on, 0.0)
    scaler.scale_ = _onto_current(scaler.scale_, trained_on, 1.0)
    if getattr(scaler, "var_", None) is not None:
        scaler.var_ = _onto_current(scaler.var_, trained_on, 1.0)
    scaler.n_features_in_ = width
    logit.coef_ = _onto_current(logit.coef_[0], trained_on, 0.0).reshape(1, width)
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
