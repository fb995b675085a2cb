"""Families of demo worlds: each family is one reproducible draw of habits, unlike the
demo's and unlike each other, with the cases the shipped model must learn."""

from __future__ import annotations

from collections import Counter

import pytest

from matching.candidates import Source
from provisioning.demo.families import FamilyOrder, family_params, labelled_world
from provisioning.demo.world import OrderCase, WorldParams
from provisioning.finder.shipped import TRAINING_FAMILIES

FAMILY = 224  # small, with self-signup trials among companies without an org


@pytest.fixture(scope="module")
def family() -> list[FamilyOrder]:
    return labelled_world(family_params(FAMILY, 300), FAMILY)


def test_a_family_is_the_same_world_every_time_and_unlike_the_others() -> None:
    assert family_params(FAMILY) == family_params(FAMILY)
    habits = {repr(family_params(f).habits) for f in range(1, 11)}
    assert len(habits) == 10  # ten families, ten sets of habits
    assert family_params(FAMILY).habits != WorldParams().habits  # not the demo's
    assert family_params(FAMILY).habits.unique_names


def test_the_benchmark_families_are_not_trained_on() -> None:
    assert max(TRAINING_FAMILIES) < 101  # benchmarks.matching_quality judges 101 and up


def test_a_family_world_holds_the_live_trial_trap(family: list[FamilyOrder]) -> None:
    cases = Counter(o.case for o in family)
    assert len(family) >= 250 and {o.family for o in family} == {FAMILY}
    assert cases[OrderCase.LIVE_TRIAL] > 0, cases
    for order in family:
        truth = next(
            (c for c in order.labelled.found.candidates if c.org_id == order.labelled.truth), None
        )
        if order.case is OrderCase.LIVE_TRIAL:
            assert truth is not None and truth.facts.status == "trial"
        if order.case is OrderCase.EXACT:
            assert truth is not None and Source.EXACT in truth.sources
        if order.case is OrderCase.NO_MATCH:
            assert order.labelled.truth is None
