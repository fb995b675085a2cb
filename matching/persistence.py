"""Storing a model without ever executing code on load: skops, with an allow-list.

`skops.io.load` only builds the types it is told to trust; we trust exactly the
scikit-learn and NumPy types a scorer Pipeline is made of and refuse anything else, so a
tampered artifact fails loudly instead of running. The decision settings (thresholds,
none bias) travel beside the artifact as plain JSON.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import skops.io as sio

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
    return sio.dumps(model.pipeline)


def settings_of(model: Model) -> dict[str, Any]:
    return {
        "thresholds": {"auto": model.thresholds.auto, "review": model.thresholds.review},
        "none_bias": model.none_bias,
        "params": model.params,
        "features": list(FEATURE_NAMES),
    }


def load(artifact: bytes, settings: dict[str, Any]) -> Model:
    if settings.get("features", list(FEATURE_NAMES)) != list(FEATURE_NAMES):
        raise MatchingError("the model was trained on other features than this version computes")
    untrusted = sio.get_untrusted_types(data=artifact)
    refused = [t for t in untrusted if not t.startswith(_TRUSTED_PREFIXES)]
    if refused:
        raise UntrustedModel(f"refusing to load types: {', '.join(sorted(refused))}")
    pipeline = sio.loads(artifact, trusted=untrusted)
    thresholds = Thresholds(**settings.get("thresholds", {}))
    return Model(
        pipeline,
        thresholds,
        float(settings.get("none_bias", 0.0)),
        dict(settings.get("params", {})),
    )


@cache
def load_default() -> Model:
    """The model that ships with the project (trained on a generated history)."""
    package = resources.files("matching.models")
    artifact = package.joinpath(DEFAULT_ARTIFACT).read_bytes()
    settings = json.loads(package.joinpath(DEFAULT_SETTINGS).read_text(encoding="utf-8"))
    return load(artifact, settings)
