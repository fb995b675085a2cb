"""How sure the finder says it is: guard rails, ensemble disagreement, unfamiliar evidence,
the risk-controlled auto threshold, and models that learn on top of the shipped one."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from matching import persistence
from matching.candidates import OrderQuery, find_candidates
from matching.errors import MatchingError
from matching.evaluation import LabelledOrder, Prediction
from matching.familiarity import evidence_pattern, familiarity_cap
from matching.features import FEATURE_NAMES
from matching.guard_rails import GUARDED_CONFIDENCE
from matching.matcher import match_order
from matching.memory_source import InMemorySource, MemberRecord, OrgRecord
from matching.risk_control import control_auto_threshold, least_evidence
from matching.scorer import Model, Review, Thresholds, make_pipeline, rank
from matching.training import choose_thresholds, examples, fit, fit_model, support_of
from matching.transfer import fit_on_prior, prior_logits

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
RECENT = NOW - timedelta(days=3)
CREATED = datetime(2019, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def shipped() -> Model:
    return persistence.load_default()


@pytest.fixture(scope="module")
def world() -> InMemorySource:
    orgs = [
        OrgRecord("acme", "Acme Freight Ltd", CREATED, "active", "GB"),
        OrgRecord("acme-sales", "Acme Freight Sales", CREATED, "active", "GB"),
        OrgRecord("partner", "Nimbus IT Services", CREATED, "active", "GB"),
        OrgRecord("bolt", "Bolt Robotics Ltd", CREATED, "active", "GB", partner_id="partner"),
        # A self-signup trial named after the person who started it, three weeks ago.
        OrgRecord("lars", "Lars's org", NOW - timedelta(days=21), "trial", "SE"),
    ]
    domains = [("acme", "acme.co.uk", "claimed"), ("partner", "nimbus-it.com", "verified")]
    members = [
        *(MemberRecord("acme", f"user{i}@acme.co.uk", "active", RECENT) for i in range(8)),
        MemberRecord("acme-sales", "sales@acme.co.uk", "active", RECENT),
        MemberRecord("partner", "pat@nimbus-it.com", "active", RECENT),
        MemberRecord("bolt", "ceo@boltrobotics.co.uk", "active", RECENT),
        MemberRecord("lars", "lars.berg@gmail.com", "active", RECENT),
    ]
    return InMemorySource(orgs, domains, members)


def hostile_model(thresholds: Thresholds | None = None) -> Model:
    """A scorer that finds every candidate unlikely: it answers "create a new organization"
    with near certainty, whatever the evidence (what the guard rails are for)."""
    X = np.vstack([np.zeros(len(FEATURE_NAMES)), np.ones(len(FEATURE_NAMES))])
    pipeline = make_pipeline().fit(X, [0, 1])
    logit = pipeline.named_steps["logit"]
    logit.coef_ = np.zeros_like(logit.coef_)
    logit.intercept_ = np.array([-12.0])
    return Model(pipeline, thresholds or Thresholds())


def query(email: str, company: str, partner: str | None = None, converts: bool = False):
    return OrderQuery("ORD-1", email, company, "GB", partner, converts)


# --- guard rails --------------------------------------------------------------------------


def test_an_exact_match_is_never_overruled_with_confidence(world: InMemorySource) -> None:
    result = match_order(query("user3@acme.co.uk", "Acme Freight"), world, hostile_model(), NOW)
    assert result.recommended_org_id is None  # the model still ranks: it says "new org"…
    assert result.ranking.model_confidence > 0.999
    assert result.confidence == GUARDED_CONFIDENCE  # …but not with confidence
    assert result.review is not Review.AUTO
    (rail,) = result.to_dict()["guard_rails"]
    assert rail["rule"] == "exact_email"
    assert "user3@acme.co.uk is a member of Acme Freight Ltd" in rail["reason"]
    assert result.to_dict()["doubts"][-1]["kind"] == "guard_rail"


def test_a_guard_rail_holds_even_when_an_analyst_lowers_the_auto_threshold(
    world: InMemorySource,
) -> None:
    reckless = hostile_model(Thresholds(auto=0.3, review=0.1))
    result = match_order(query("user3@acme.co.uk", "Acme Freight"), world, reckless, NOW)
    assert result.review is Review.CONFIRM


def test_the_contact_of_a_live_trial_keeps_the_trial(world: InMemorySource) -> None:
    result = match_order(query("lars.berg@gmail.com", "Berg Bygg AB"), world, hostile_model(), NOW)
    rules = [r["rule"] for r in result.to_dict()["guard_rails"]]
    assert rules == ["exact_email", "live_trial_member"]
    assert "the customer's trial would be lost" in result.to_dict()["guard_rails"][1]["reason"]
    assert result.review is not Review.AUTO


def test_the_shipped_model_maps_a_person_named_trial_or_asks(
    world: InMemorySource, shipped: Model
) -> None:
    """The issue's miss: the e-mail is a member of "Lars's org", a three-week-old trial."""
    result = match_order(query("lars.berg@gmail.com", "Berg Bygg AB"), world, shipped, NOW)
    assert result.recommended_org_id == "lars" or result.review is not Review.AUTO


def test_an_order_converting_a_trial_is_not_confidently_sent_elsewhere(
    world: InMemorySource,
) -> None:
    converting = query("new.person@acme.co.uk", "Acme Freight", converts=True)
    result = match_order(converting, world, hostile_model(), NOW)
    assert [r["rule"] for r in result.to_dict()["guard_rails"]] == ["trial_conversion"]
    assert result.confidence <= GUARDED_CONFIDENCE
    to_the_trial = match_order(
        query("lars.berg@gmail.com", "Lars", converts=True), world, _trusting(), NOW
    )
    assert to_the_trial.recommended_org_id == "lars" and not to_the_trial.ranking.guard_rails


def test_the_partners_own_address_is_no_exact_match_to_guard(world: InMemorySource) -> None:
    result = match_order(
        query("pat@nimbus-it.com", "Bolt Robotics", "partner"), world, hostile_model(), NOW
    )
    assert result.to_dict()["guard_rails"] == []


def test_agreeing_with_the_evidence_meets_no_rail(world: InMemorySource, shipped: Model) -> None:
    result = match_order(query("user3@acme.co.uk", "Acme Freight"), world, shipped, NOW)
    assert result.recommended_org_id == "acme" and result.to_dict()["guard_rails"] == []
    assert result.review is Review.AUTO


def _trusting() -> Model:
    """A scorer that believes an exact e-mail match, nothing else."""
    X = np.vstack([np.zeros(len(FEATURE_NAMES)), np.ones(len(FEATURE_NAMES))])
    pipeline = make_pipeline().fit(X, [0, 1])
    logit = pipeline.named_steps["logit"]
    logit.coef_ = np.zeros_like(logit.coef_)
    logit.coef_[0, FEATURE_NAMES.index("exact_email")] = 24.0
    logit.intercept_ = np.array([-12.0])
    return Model(pipeline)


# --- ensemble disagreement and unfamiliar evidence ----------------------------------------


def test_disagreement_within_the_ensemble_lowers_the_confidence(world: InMemorySource) -> None:
    sure = _trusting()
    doubting = replace(sure, members=(sure, hostile_model()))
    alone = rank(sure, find_candidates(query("user3@acme.co.uk", "Acme"), world), NOW)
    together = rank(doubting, find_candidates(query("user3@acme.co.uk", "Acme"), world), NOW)
    assert alone.recommended is not None and together.recommended is not None
    assert together.recommended.candidate.org_id == alone.recommended.candidate.org_id
    assert together.model_confidence == alone.model_confidence > 0.99
    assert together.agreement < 0.01  # the hostile member gives "acme" next to nothing
    assert together.confidence == together.agreement


def test_an_answer_unlike_the_training_data_is_not_promised(world: InMemorySource) -> None:
    found = find_candidates(query("user3@acme.co.uk", "Acme"), world)
    pattern = evidence_pattern(found, next(c for c in found.candidates if c.org_id == "acme"))
    assert "exact=answer" in pattern and "domain=claimed" in pattern
    seen_often = replace(_trusting(), support={pattern: 998})
    never_seen = replace(_trusting(), support={"mail=free|exact=none": 5_000})
    assert rank(seen_often, found, NOW).confidence == pytest.approx(familiarity_cap(998))
    strange = match_order(query("user3@acme.co.uk", "Acme"), world, never_seen, NOW)
    assert strange.confidence == familiarity_cap(0) == 0.5
    (doubt,) = strange.to_dict()["doubts"]
    assert doubt["kind"] == "familiarity" and "0 orders had a right answer" in doubt["reason"]


def test_support_counts_the_shape_of_right_answers(world: InMemorySource) -> None:
    exact = find_candidates(query("user1@acme.co.uk", "Acme"), world)
    fresh = find_candidates(query("info@brand-new.co.uk", "Brand New"), world)
    lost = find_candidates(query("info@elsewhere.co.uk", "Elsewhere"), world)
    orders = [
        LabelledOrder(exact, "acme", NOW),
        LabelledOrder(exact, "acme", NOW),
        LabelledOrder(fresh, None, NOW),
        LabelledOrder(lost, "bolt", NOW),  # the right org was not found: teaches no pattern
    ]
    acme = next(c for c in exact.candidates if c.org_id == "acme")
    assert support_of(orders) == {
        evidence_pattern(exact, acme): 2,
        evidence_pattern(fresh, None): 1,
    }
    assert familiarity_cap(198) == pytest.approx(0.995)


# --- the auto threshold, chosen by conformal risk control ---------------------------------


def predictions(*groups: tuple[int, float, bool]) -> list[Prediction]:
    return [
        Prediction("right" if ok else "wrong", "right", ("right",), confidence)
        for count, confidence, ok in groups
        for _ in range(count)
    ]


def test_a_threshold_is_only_promised_on_enough_evidence() -> None:
    assert least_evidence(0.995, 0.9) == 460  # 0.995**460 < 0.1
    assert control_auto_threshold(predictions((400, 0.99, True))).auto is None
    chosen = control_auto_threshold(predictions((1_000, 0.99, True)))
    assert chosen.auto is not None and chosen.auto <= 0.99 and chosen.auto_share == 1.0


def test_confident_errors_leave_nothing_automatic() -> None:
    pocket = control_auto_threshold(predictions((1_000, 0.99, True), (50, 0.995, False)))
    assert pocket.auto is None and pocket.auto_share == 0.0


def test_the_lowest_threshold_that_keeps_the_promise_is_chosen() -> None:
    # Below 0.99 the band is 99.9% right: promised, so the threshold goes down to 0.8.
    rare_errors = control_auto_threshold(
        predictions((5_000, 0.99, True), (5, 0.8, False), (500, 0.8, True))
    )
    assert rare_errors.auto == 0.8 and rare_errors.auto_precision == pytest.approx(5500 / 5505)
    # 40 errors in the 0.8 band make it 99.3% right: the threshold stays at 0.99.
    many_errors = control_auto_threshold(
        predictions((5_000, 0.99, True), (40, 0.8, False), (500, 0.8, True))
    )
    assert many_errors.auto == 0.99 and many_errors.auto_precision == 1.0
    thresholds, control = choose_thresholds(
        predictions((5_000, 0.99, True), (40, 0.8, False), (500, 0.8, True))
    )
    assert thresholds.auto == control.auto == 0.99 and thresholds.review < thresholds.auto
    assert control.to_dict()["target"] == 0.995 and control.to_dict()["certainty"] == 0.9


# --- persistence of an ensemble, and of a version older than a feature ---------------------


def test_an_ensemble_loads_back_with_its_members_support_and_risk_control(
    world: InMemorySource,
) -> None:
    found = find_candidates(query("user3@acme.co.uk", "Acme"), world)
    model = replace(
        _trusting(),
        thresholds=Thresholds(auto=0.97, review=0.8),
        members=(_trusting(), replace(hostile_model(), none_bias=0.5)),
        support={"some|pattern": 12},
        risk_control={"auto": 0.97, "target": 0.995},
    )
    loaded = persistence.load(persistence.dump(model), persistence.settings_of(model))
    assert [m.none_bias for m in loaded.members] == [0.0, 0.5]
    assert loaded.support == {"some|pattern": 12} and loaded.risk_control == model.risk_control
    assert rank(loaded, found, NOW).confidence == rank(model, found, NOW).confidence


def test_a_version_trained_before_a_feature_existed_scores_as_it_did() -> None:
    older = [name for name in FEATURE_NAMES if name != "converts_this_trial"]
    rng = np.random.default_rng(3)
    X_old = rng.normal(size=(200, len(older)))
    pipeline = make_pipeline().fit(X_old, (X_old[:, 0] > 0).astype(int))
    settings = {"features": older, "thresholds": {"auto": 0.9, "review": 0.5}}
    loaded = persistence.load(persistence.dump(Model(pipeline)), settings)
    X_now = np.insert(X_old, FEATURE_NAMES.index("converts_this_trial"), 1.0, axis=1)
    assert np.allclose(loaded.independent_probabilities(X_now), pipeline.predict_proba(X_old)[:, 1])
    with pytest.raises(MatchingError, match="other features"):
        persistence.load(persistence.dump(Model(pipeline)), {"features": older[::-1]})


# --- learning an installation's history on top of the shipped model -----------------------


def test_learning_on_top_of_a_prior_is_one_plain_scorer_pipeline(shipped: Model) -> None:
    rng = np.random.default_rng(7)
    X = rng.uniform(0, 1, size=(300, len(FEATURE_NAMES)))
    y = prior_logits(X, shipped) + rng.normal(0, 1, 300) > np.median(prior_logits(X, shipped))
    folded = fit_on_prior(make_pipeline(), X, y.astype(int), shipped)
    assert isinstance(folded, Pipeline) and list(folded.named_steps) == ["scale", "logit"]
    # The folded pipeline's own predict_proba is the model's (the artifact stays standard).
    model = Model(folded)
    assert np.allclose(model.independent_probabilities(X), folded.predict_proba(X)[:, 1])


def test_onboard_trains_an_ensemble_whose_thresholds_are_risk_controlled(
    world: InMemorySource, shipped: Model
) -> None:
    exact = find_candidates(query("user1@acme.co.uk", "Acme"), world)
    domain = find_candidates(query("someone@acme.co.uk", "Acme Freight"), world)
    fresh = find_candidates(query("info@brand-new.co.uk", "Brand New"), world)
    history = [LabelledOrder(f, t, NOW) for f, t in [(exact, "acme"), (domain, "acme")]] * 30
    history += [LabelledOrder(fresh, None, NOW)] * 30
    result = fit(history, prior=shipped)
    assert len(result.model.members) == 5 and result.params["prior"] is True
    assert result.risk_control is not None and result.model.risk_control is not None
    # 68 calibration orders cannot promise 99.5%: nothing is applied on its own.
    assert result.risk_control.auto is None and result.model.thresholds.auto == 1.0
    without = fit_model(history)
    assert without.members == () and examples(history)[0].shape[1] == len(FEATURE_NAMES)
