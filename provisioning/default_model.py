"""Building the model that ships with the project, from a generated history.

Maintainers run `onboard models build-default` after changing features or the scorer;
the artifact is committed under `matching/models/`. The history comes from a demo world
whose seed and proportions differ from the default demo, so the shipped model is not
judged on the world it learnt from.
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from matching import persistence
from matching.training import TrainingResult, fit
from provisioning.db import Database
from provisioning.demo.seed import create_demo
from provisioning.demo.world import WorldParams
from provisioning.finder import labelled_orders

MODELS_DIR = Path(__file__).resolve().parent.parent / "matching" / "models"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TRAINING_WORLD = WorldParams(
    orgs=4_000,
    seed=2_024,
    now=NOW,
    orders_per_100_orgs=40.0,
    history_share=0.85,
    p_trial_sibling=0.25,
    p_department=0.15,
    p_personal=0.08,
)


def build_default(
    directory: Path = MODELS_DIR, world: WorldParams = TRAINING_WORLD
) -> TrainingResult:
    with tempfile.TemporaryDirectory(prefix="onboard-default-model-") as scratch:
        db = Database(f"sqlite:///{Path(scratch) / 'history.sqlite'}")
        db.ensure_schema()
        create_demo(db, world, "default-model@onboarding-desk")
        with db.read() as session:
            orders = labelled_orders(session, world.now)
        db.dispose()
    result = fit(orders)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / persistence.DEFAULT_ARTIFACT).write_bytes(persistence.dump(result.model))
    settings = persistence.settings_of(result.model)
    settings["trained_on"] = {
        "world": {"orgs": world.orgs, "seed": world.seed, "now": world.now.isoformat()},
        "orders": len(orders),
        "held_out": result.metrics,
    }
    (directory / persistence.DEFAULT_SETTINGS).write_text(
        json.dumps(settings, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return result
