"""Building the model that ships with the project, from families of generated worlds.

Maintainers run `onboard models build-default` after changing features or the scorer;
the artifact is committed under `matching/models/`. A new installation runs on this model
for its first weeks, on a world nobody generated: so it is fitted on many worlds whose
habits are drawn at random (`provisioning.demo.families`), its ensemble members are
fitted leaving whole groups of worlds out, and its auto threshold is chosen by
conformal risk control on those leave-worlds-out predictions. The families the
benchmark judges it on (`benchmarks.matching_quality`) are never among these.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matching import persistence
from matching.evaluation import metrics
from matching.training import EnsembleFit, fit_ensemble
from provisioning.demo.families import FamilyOrder, family_params, labelled_world

MODELS_DIR = Path(__file__).resolve().parent.parent / "matching" / "models"
TRAINING_FAMILIES: tuple[int, ...] = tuple(range(1, 31))
# Groups of families left out together: each member of the ensemble never saw a fifth
# of the worlds, and predicts them for the threshold's calibration.
GROUPS = 5


@dataclass(frozen=True)
class DefaultModel:
    fitted: EnsembleFit
    orders: int
    per_family: dict[int, dict[str, float]]  # leave-families-out metrics per world
    held_out: dict[str, float]  # pooled


def _world(family: int) -> list[FamilyOrder]:
    return labelled_world(family_params(family), family)


def family_worlds(families: Sequence[int], workers: int = 2) -> list[FamilyOrder]:
    """Every order of the families' worlds, generated side by side."""
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [order for world in pool.map(_world, families) for order in world]


def build_default(
    directory: Path = MODELS_DIR, families: Sequence[int] = TRAINING_FAMILIES
) -> DefaultModel:
    history = family_worlds(families)
    orders = [o.labelled for o in history]
    fitted = fit_ensemble(orders, folds=GROUPS, groups=[o.family for o in history])
    if fitted.cross_validation is None or fitted.risk_control is None:
        raise ValueError("families: too few worlds to leave groups of them out")
    predictions = fitted.cross_validation.predictions
    per_family: dict[int, dict[str, float]] = {}
    for family in families:
        mine = [p for p, o in zip(predictions, history, strict=True) if o.family == family]
        per_family[family] = metrics(mine)
    result = DefaultModel(fitted, len(orders), per_family, metrics(predictions))
    _write(directory, result, list(families))
    return result


def _write(directory: Path, result: DefaultModel, families: list[int]) -> None:
    model = result.fitted.model
    directory.mkdir(parents=True, exist_ok=True)
    artifact = persistence.dump(model)
    (directory / persistence.DEFAULT_ARTIFACT).write_bytes(artifact)
    settings: dict[str, Any] = persistence.sealed(persistence.settings_of(model), artifact)
    settings["trained_on"] = {
        "families": families,
        "orders": result.orders,
        "held_out": result.held_out,
        "held_out_by": "leave-families-out",
    }
    (directory / persistence.DEFAULT_SETTINGS).write_text(
        json.dumps(settings, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
