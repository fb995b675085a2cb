"""The demo world generator: reproducible, referentially sound, every case present."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from matching.normalize import email_domain, is_free_mail, registrable_domain
from provisioning.demo.world import OrderCase, WorldParams, WorldSummary, generate_world
from provisioning.states import OrderState

FILES = ("orgs.csv", "domains.csv", "users.csv", "orders.csv", "order_lines.csv", "labels.csv")


def read(directory: Path, name: str) -> list[dict[str, str]]:
    with (directory / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> WorldSummary:
    world = WorldParams(orgs=800, orders_per_100_orgs=25.0)
    return generate_world(world, tmp_path_factory.mktemp("world"))


def test_same_seed_same_bytes_other_seed_other_world(tmp_path: Path) -> None:
    first = generate_world(WorldParams(orgs=150, seed=3), tmp_path / "a")
    second = generate_world(WorldParams(orgs=150, seed=3), tmp_path / "b")
    third = generate_world(WorldParams(orgs=150, seed=4), tmp_path / "c")
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert first.plans == second.plans
    assert read(tmp_path / "a", "users.csv") != read(tmp_path / "c", "users.csv")
    assert third.counts["orgs.csv"] == 150


def test_every_reference_resolves_and_ids_are_unique(world: WorldSummary) -> None:
    directory = world.directory
    orgs = read(directory, "orgs.csv")
    org_ids = {row["org_id"] for row in orgs}
    assert len(org_ids) == len(orgs) == 800
    assert {row["partner_id"] for row in orgs if row["partner_id"]} <= org_ids
    users = read(directory, "users.csv")
    assert len({row["email"] for row in users}) == len(users)
    assert {row["org_id"] for row in users} <= org_ids
    domains = read(directory, "domains.csv")
    assert len({(row["org_id"], row["domain"]) for row in domains}) == len(domains)
    orders = read(directory, "orders.csv")
    order_ids = {row["order_id"] for row in orders}
    assert {row["partner_id"] for row in orders if row["partner_id"]} <= org_ids
    assert {row["order_id"] for row in read(directory, "order_lines.csv")} == order_ids
    assert all(int(row["quantity"]) > 0 for row in read(directory, "order_lines.csv"))


def test_every_case_and_state_is_present(world: WorldSummary) -> None:
    cases = Counter(plan.case for plan in world.plans)
    # A company whose only org is a self-signup trial is a habit of other worlds (families).
    assert set(cases) == set(OrderCase) - {OrderCase.LIVE_TRIAL}, cases
    states = Counter(plan.state for plan in world.plans)
    # Expired orders need an old open order: rare in a small world, so not required here.
    assert set(OrderState) - {OrderState.EXPIRED} <= set(states), states
    labels = {row["order_id"] for row in read(world.directory, "labels.csv")}
    history = {plan.order_id for plan in world.plans if plan.state is OrderState.HISTORY}
    assert labels == history


def test_ground_truth_matches_the_rows(world: WorldSummary) -> None:
    directory = world.directory
    member_org = {row["email"]: row["org_id"] for row in read(directory, "users.csv")}
    org_domains: dict[str, set[str]] = {}
    for row in read(directory, "domains.csv"):
        org_domains.setdefault(row["org_id"], set()).add(row["domain"])
    orgs = {row["org_id"]: row for row in read(directory, "orgs.csv")}
    orders = {row["order_id"]: row for row in read(directory, "orders.csv")}
    for plan in world.plans:
        order = orders[plan.order_id]
        email = order["provisioning_email"]
        if plan.case in (OrderCase.EXACT, OrderCase.TRIAL_CONVERSION, OrderCase.ADDON):
            assert member_org[email] == plan.true_org_id
        if plan.case is OrderCase.TRIAL_CONVERSION:
            assert orgs[plan.true_org_id]["status"] == "trial"
        if plan.case is OrderCase.SUBDOMAIN:
            host = email_domain(email)
            parent = registrable_domain(host)
            assert host != parent and parent in org_domains[plan.true_org_id]
        if plan.case is OrderCase.PARTNER_OWN_ADDRESS:
            partner = member_org[email]
            assert order["partner_id"] == partner
            assert orgs[plan.true_org_id]["partner_id"] == partner
        if plan.case is OrderCase.NO_MATCH:
            assert plan.true_org_id is None and email not in member_org
        if plan.case is OrderCase.FREE_MAIL:
            assert is_free_mail(email_domain(email))


def test_world_has_multi_label_suffixes_and_abandoned_trials(world: WorldSummary) -> None:
    domains = read(world.directory, "domains.csv")
    assert any(row["domain"].endswith((".co.uk", ".com.au", ".co.jp")) for row in domains)
    by_domain: dict[str, set[str]] = {}
    for row in domains:
        by_domain.setdefault(row["domain"], set()).add(row["status"])
    assert any({"unverified"} < statuses for statuses in by_domain.values())


def test_open_backlog_is_never_empty(tmp_path: Path) -> None:
    for seed in range(3):
        summary = generate_world(WorldParams(orgs=60, seed=seed), tmp_path / str(seed))
        assert any(plan.state.awaits_org for plan in summary.plans), seed


def test_knobs_change_the_world(tmp_path: Path) -> None:
    summary = generate_world(WorldParams(orgs=300, p_personal=0.0), tmp_path)
    users = read(tmp_path, "users.csv")
    assert not any(is_free_mail(email_domain(row["email"])) for row in users)
    # Free-mail orders remain (employees using a personal address), but no personal org.
    free_mail_truths = {p.true_org_id for p in summary.plans if p.case is OrderCase.FREE_MAIL}
    orgs = {row["org_id"]: row for row in read(tmp_path, "orgs.csv")}
    assert all(orgs[t]["industry"] != "" for t in free_mail_truths if t)


@pytest.mark.parametrize(
    ("knob", "value"),
    [("orgs", 0), ("p_personal", 1.5), ("history_share", -0.1), ("members_per_org", 0)],
)
def test_invalid_knobs_are_refused_by_name(knob: str, value: float) -> None:
    with pytest.raises(ValueError, match=knob):
        WorldParams(**{knob: value})  # type: ignore[arg-type]


def test_every_demo_country_has_a_main_office_the_calling_form_accepts() -> None:
    """A provisioned Calling service in the demo has the location the form would have
    saved; its address passes the same checks."""
    from provisioning.demo.records import OFFICES
    from provisioning.demo.world import COUNTRIES
    from provisioning.rules.locations import validate_location

    for country in COUNTRIES:
        line, city, postal, state = OFFICES[country.code]
        location = validate_location(
            name="HQ",
            country=country.code,
            address_line1=line,
            city=city,
            postal_code=postal,
            state_code=state,
        )
        assert location.country == country.code
