"""Golden numbers: the shipped model's answers on the mini fixture and its metrics on a
seeded family world, pinned. A change to features, scorer or the shipped artifact that
moves them fails here on purpose: look at what moved, then refresh the numbers with
`ONBOARD_UPDATE_GOLDEN=1 pytest tests/unit/test_golden_model.py` and say why in the commit.
"""

from __future__ import annotations

import csv
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from matching import persistence
from matching.candidates import OrderQuery, find_candidates_of
from matching.evaluation import metrics, model_finder, predict_all
from matching.matcher import match_orders
from matching.memory_source import InMemorySource
from provisioning.demo.families import family_params, labelled_world, read_dataset
from tests.conftest import FIXTURES

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
UPDATE = os.environ.get("ONBOARD_UPDATE_GOLDEN") == "1"
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
FAMILY = 224  # a small world of a family the shipped model never saw
TOLERANCE = 1e-6


def _mini_source() -> tuple[InMemorySource, list[OrderQuery]]:
    """The mini fixture in memory, with its orders still waiting (not in labels.csv)."""
    source, queries = read_dataset(FIXTURES / "mini")
    with (FIXTURES / "mini" / "labels.csv").open(encoding="utf-8", newline="") as handle:
        decided = {row["order_id"] for row in csv.DictReader(handle)}
    return source, [q for q in queries if q.order_id not in decided]


def _compare(name: str, measured: dict[str, Any]) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(json.dumps(measured, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert measured.keys() == expected.keys()
    for key, value in expected.items():
        got = measured[key]
        if isinstance(value, dict):
            assert got.keys() == value.keys(), key
            for field, number in value.items():
                if isinstance(number, float):
                    assert got[field] == pytest.approx(number, abs=TOLERANCE), (key, field)
                else:
                    assert got[field] == number, (key, field)
        else:
            assert got == pytest.approx(value, abs=TOLERANCE), key


def test_the_shipped_models_answers_on_the_mini_fixture() -> None:
    source, queries = _mini_source()
    results = match_orders(queries, source, persistence.load_default(), NOW)
    measured = {
        r.order_id: {
            "recommended_org_id": r.recommended_org_id,
            "review": r.review.value,
            "confidence": round(r.confidence, 6),
            "model_confidence": round(r.ranking.model_confidence, 6),
            "p_new_org": round(r.ranking.p_none, 6),
        }
        for r in results
    }
    assert len(measured) == 5
    _compare("shipped_model_mini.json", measured)


def test_the_shipped_models_metrics_on_a_seeded_family_world() -> None:
    world = labelled_world(family_params(FAMILY, 300), FAMILY)
    predictions = predict_all(model_finder(persistence.load_default()), [o.labelled for o in world])
    measured = {k: round(v, 6) for k, v in metrics(predictions).items()}
    assert measured["orders"] == len(world) >= 250
    _compare("shipped_model_family_224.json", measured)


def test_the_candidates_found_on_the_mini_fixture() -> None:
    source, queries = _mini_source()
    assert [len(f.candidates) for f in find_candidates_of(queries, source)] == [3, 3, 0, 2, 1]
