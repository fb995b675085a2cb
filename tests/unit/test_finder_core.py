"""The pure organization finder: candidates, features, outcome, scorer, explanations,
persistence. Data comes from an in-memory source, the model is the shipped one."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from matching import persistence
from matching.candidates import OrderQuery, Source, find_candidates
from matching.explain import contrast, evidence, reasons
from matching.features import FEATURE_NAMES, FEATURES, feature_matrix
from matching.matcher import match_order, outcome_of
from matching.memory_source import InMemorySource, MemberRecord, OrgRecord
from matching.scorer import Model, Review, Thresholds, rank
from matching.vocabulary import Outcome

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
LONG_AGO = datetime(2023, 6, 1, tzinfo=UTC)
RECENT = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture(scope="module")
def model() -> Model:
    return persistence.load_default()


@pytest.fixture(scope="module")
def world() -> InMemorySource:
    created = datetime(2019, 1, 1, tzinfo=UTC)
    orgs = [
        OrgRecord("acme", "Acme Freight Ltd", created, "active", "GB", partner_id="partner"),
        OrgRecord("acme-test", "Acme test", created, "expired", "GB"),
        OrgRecord("acme-sales", "Acme Freight Sales", created, "active", "GB"),
        OrgRecord("partner", "Nimbus IT Services", created, "active", "GB"),
        OrgRecord("bolt", "Bolt Robotics Ltd", created, "active", "GB", partner_id="partner"),
        OrgRecord("kari", "Kari Nordmann", created, "trial", "NO"),
    ]
    domains = [
        ("acme", "acme.co.uk", "claimed"),
        ("acme-test", "acme.co.uk", "unverified"),
        ("partner", "nimbus-it.com", "verified"),
    ]
    members = [
        *(MemberRecord("acme", f"user{i}@acme.co.uk", "active", RECENT) for i in range(8)),
        MemberRecord("acme-test", "old@acme.co.uk", "inactive", LONG_AGO),
        MemberRecord("acme-sales", "sales1@acme.co.uk", "active", RECENT),
        MemberRecord("acme-sales", "sales2@acme.co.uk", "active", RECENT),
        MemberRecord("partner", "pat@nimbus-it.com", "active", RECENT),
        MemberRecord("bolt", "ceo@boltrobotics.co.uk", "active", RECENT),
        MemberRecord("kari", "kari@gmail.com", "active", RECENT),
    ]
    return InMemorySource(orgs, domains, members)


def order(email: str, company: str = "Acme Freight", partner: str | None = None) -> OrderQuery:
    return OrderQuery("ORD-1", email, company, "GB", partner)


def test_exact_match_is_found_and_is_the_outcome(world: InMemorySource) -> None:
    found = find_candidates(order("User3@ACME.co.uk"), world)
    assert found.exact_org_id == "acme"
    assert Source.EXACT in {c.org_id: c for c in found.candidates}["acme"].sources
    assert outcome_of(found) is Outcome.EXACT


def test_subdomain_meets_the_registrable_domain(world: InMemorySource) -> None:
    found = find_candidates(order("new.person@mail.acme.co.uk"), world)
    assert found.registrable == "acme.co.uk"
    by_id = {c.org_id: c for c in found.candidates}
    assert {"acme", "acme-test", "acme-sales"} <= set(by_id)
    assert by_id["acme"].best_domain_status == "claimed"
    assert by_id["acme-sales"].sources >= {Source.MEMBERS}
    assert by_id["acme-sales"].best_domain_status is None
    assert outcome_of(found) is Outcome.DOMAIN
    X = feature_matrix(found, NOW)
    subdomain = {
        c.org_id: X[i][FEATURE_NAMES.index("subdomain")] for i, c in enumerate(found.candidates)
    }
    assert subdomain["acme"] == 1.0 and subdomain["acme-sales"] == 0.0


def test_free_mail_is_no_domain_evidence(world: InMemorySource) -> None:
    found = find_candidates(order("someone.else@gmail.com", "Fjellstua Kafe"), world)
    assert found.free_mail
    assert found.candidates == []  # kari's org shares gmail.com, which says nothing
    assert outcome_of(found) is Outcome.NONE


def test_partner_own_address_points_at_its_managed_customer(world: InMemorySource) -> None:
    found = find_candidates(order("pat@nimbus-it.com", "Bolt Robotics", "partner"), world)
    assert found.partner_own_address
    assert outcome_of(found) is Outcome.DOMAIN  # the partner's exact match is not "exact"
    by_id = {c.org_id: c for c in found.candidates}
    assert Source.PARTNER in by_id["bolt"].sources
    assert not any(c.sources & {Source.DOMAIN, Source.MEMBERS} for c in found.candidates)


def test_features_are_named_documented_and_computed(world: InMemorySource) -> None:
    assert len(FEATURES) == len(set(FEATURE_NAMES)) and all(f.doc for f in FEATURES)
    found = find_candidates(order("user1@acme.co.uk"), world)
    X = feature_matrix(found, NOW)
    rows = {
        c.org_id: dict(zip(FEATURE_NAMES, X[i], strict=True))
        for i, c in enumerate(found.candidates)
    }
    assert rows["acme"]["exact_email"] == 1.0 and rows["acme"]["domain_claimed"] == 1.0
    assert rows["acme"]["log_active_members"] == pytest.approx(math.log1p(8))
    assert rows["acme-test"]["domain_unverified"] == 1.0
    assert rows["acme-test"]["status_expired"] == 1.0
    assert rows["acme-test"]["log_days_silent"] == pytest.approx(
        math.log1p((NOW - LONG_AGO).days), abs=0.01
    )
    assert rows["acme-sales"]["members_only"] == 1.0
    assert rows["acme"]["managed_by_partner"] == 0.0  # no ordering partner on this order
    assert rows["acme"]["name_exactness"] > rows["acme-sales"]["name_exactness"]


def test_scorer_is_the_pipeline_and_a_distribution(world: InMemorySource, model: Model) -> None:
    found = find_candidates(order("new.person@acme.co.uk"), world)
    X = feature_matrix(found, NOW)
    assert np.allclose(model.independent_probabilities(X), model.pipeline.predict_proba(X)[:, 1])
    ranking = rank(model, found, NOW)
    total = ranking.p_none + sum(s.probability for s in ranking.ranked)
    assert total == pytest.approx(1.0)
    assert ranking.recommended is not None and ranking.recommended.candidate.org_id == "acme"
    contributions = ranking.ranked[0].contributions
    logit = sum(contributions.values()) + model.intercept
    assert 1 / (1 + math.exp(-logit)) == pytest.approx(ranking.ranked[0].independent, rel=1e-4)


def test_no_candidate_means_create_a_new_org(world: InMemorySource, model: Model) -> None:
    result = match_order(order("info@brand-new-company.se", "Brand New AB"), world, model, NOW)
    assert result.recommended_org_id is None
    assert result.to_dict()["recommended_org_id"] is None
    assert result.outcome is Outcome.NONE and result.ranking.model_confidence == 1.0
    # Orders with no candidate are common in training: the answer is applied on its own.
    assert result.confidence >= model.thresholds.auto and result.review is Review.AUTO


def test_thresholds_decide_the_review_mode() -> None:
    thresholds = Thresholds(auto=0.9, review=0.5)
    assert thresholds.review_for(0.95) is Review.AUTO
    assert thresholds.review_for(0.7) is Review.CONFIRM
    assert thresholds.review_for(0.2) is Review.OPERATOR
    with pytest.raises(ValueError, match="thresholds"):
        Thresholds(auto=0.5, review=0.9)


def test_explanations_speak_the_operators_language(world: InMemorySource, model: Model) -> None:
    found = find_candidates(order("new.person@acme.co.uk"), world)
    ranking = rank(model, found, NOW)
    best = ranking.ranked[0]
    said = evidence(found, best.candidate, NOW)
    assert "domain acme.co.uk claimed" in said
    assert "8 active members" in said and "active this week" in said
    why = contrast(ranking, NOW)
    assert why is not None and why.startswith("Acme Freight Ltd over ")
    assert " vs " in why
    stale = next(s for s in ranking.ranked if s.candidate.org_id == "acme-test")
    assert "silent since 2023" in evidence(found, stale.candidate, NOW)
    assert all({"feature", "value", "contribution", "meaning"} <= set(r) for r in reasons(best))


def test_match_result_json_contract(world: InMemorySource, model: Model) -> None:
    data = match_order(order("user1@acme.co.uk"), world, model, NOW).to_dict()
    assert {"order_id", "outcome", "recommended_org_id", "confidence", "candidates"} <= set(data)
    candidate = data["candidates"][0]
    assert {"org_id", "name", "score", "evidence", "reasons"} <= set(candidate)
    scores = [c["score"] for c in data["candidates"]]
    assert scores == sorted(scores, reverse=True) and len(scores) <= 10


def test_model_round_trips_through_skops(model: Model) -> None:
    settings = persistence.settings_of(model)
    again = persistence.load(persistence.dump(model), settings)
    X = np.random.default_rng(0).normal(size=(5, len(FEATURE_NAMES)))
    assert np.allclose(again.independent_probabilities(X), model.independent_probabilities(X))
    assert again.thresholds == model.thresholds and again.none_bias == model.none_bias


def test_artifacts_with_foreign_types_are_refused(model: Model) -> None:
    tampered = sio.dumps(Pipeline([("run", FunctionTransformer(func=print))]))
    with pytest.raises(persistence.UntrustedModel, match="print"):
        persistence.load(tampered, persistence.settings_of(model))
    wrong_features = {**persistence.settings_of(model), "features": ["something_else"]}
    with pytest.raises(Exception, match="other features"):
        persistence.load(persistence.dump(model), wrong_features)
