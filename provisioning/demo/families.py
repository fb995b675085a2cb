"""Families of worlds: demo worlds whose habits are drawn at random, to train and judge the
shipped model on worlds it never saw.

One world teaches a model that world's conventions (its trials are called "Acme test",
its buyers drop the legal form a third of the time); a new installation has others. A
*family* is one draw of everything the demo generator otherwise fixes: naming of orgs and
of self-signup trials, org sizes, statuses and ages, the share of each case, partners'
habits, the country and top-level-domain mix, free-mail use and typos. The shipped model
is trained on many families and evaluated leave-one-family-out
(`matching.robustness`).

`labelled_world` ranks nothing: it returns every order of a family's world with its
candidates (found through `InMemorySource`, the same questions the database answers) and
its ground truth, ready for `matching.training`.
"""

from __future__ import annotations

import csv
import math
import random
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from matching.candidates import OrderQuery, find_candidates_of
from matching.evaluation import LabelledOrder
from matching.memory_source import InMemorySource, MemberRecord, OrgRecord
from provisioning.dataset.fields import boolean, timestamp
from provisioning.demo.world import (
    COUNTRIES,
    ORG_NAME_STYLES,
    TRIAL_NAME_STYLES,
    TYPED_STYLES,
    Habits,
    OrderCase,
    WorldParams,
    generate_world,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ORDERS_PER_WORLD = 1_500
# The demo's case weights, each multiplied by a random factor per family.
_CASE_BASE = {
    OrderCase.EXACT: 3.0,
    OrderCase.DOMAIN: 3.0,
    OrderCase.SUBDOMAIN: 1.0,
    OrderCase.PARTNER_OWN_ADDRESS: 1.0,
    OrderCase.TRIAL_CONVERSION: 1.0,
    OrderCase.ADDON: 1.0,
    OrderCase.FREE_MAIL: 0.3,
}


@dataclass(frozen=True, slots=True)
class FamilyOrder:
    """One order of a family's world: what the finder sees, the truth, and its case."""

    labelled: LabelledOrder
    case: OrderCase
    family: int


def _styles(rng: random.Random, styles: tuple[str, ...], most: int) -> dict[str, float]:
    """A few of `styles`, with random weights: a world has its habits, not all of them."""
    chosen = rng.sample(styles, rng.randint(1, min(most, len(styles))))
    return {style: round(rng.uniform(0.2, 1.0), 3) for style in chosen}


def family_params(family: int, orders: int = ORDERS_PER_WORLD, now: datetime = NOW) -> WorldParams:
    """The world of family `family` (any integer; the same one always gives the same world),
    sized for about `orders` orders."""
    rng = random.Random(f"family-{family}")

    def share(low: float, high: float) -> float:
        return round(rng.uniform(low, high), 3)

    countries = tuple(c.code for c in rng.sample(COUNTRIES, rng.randint(2, len(COUNTRIES))))
    typed_styles = rng.sample(TYPED_STYLES, rng.randint(1, 4))
    typed_total = share(0.1, 0.7)
    typed_weights = [rng.uniform(0.2, 1.0) for _ in typed_styles]
    typed = {
        style: round(typed_total * w / sum(typed_weights), 3)
        for style, w in zip(typed_styles, typed_weights, strict=True)
    }
    silent_high = share(10, 200)
    org_low = share(60, 400)
    trial_low = share(2, 30)
    habits = Habits(
        org_names=_styles(rng, ORG_NAME_STYLES, 3),
        trial_names=_styles(rng, TRIAL_NAME_STYLES, 3),
        typed=typed,
        countries=countries,
        unique_names=True,
        p_dotcom=share(0.0, 0.7),
        p_claimed=share(0.2, 0.9),
        p_no_domain_row=share(0.0, 0.25),
        p_person_trial=share(0.0, 1.0),
        p_trial_only=share(0.0, 0.35),
        p_partner_on_order=share(0.4, 1.0),
        active_share=share(0.5, 0.97),
        org_days=(org_low, org_low + share(300, 4000)),
        live_trial_days=(trial_low, trial_low + share(5, 90)),
        abandoned_days=(share(200, 800), share(900, 3000)),
        silent_days=(0.0, silent_high),
    )
    members = round(math.exp(rng.uniform(math.log(2), math.log(40))), 2)
    rate = share(10, 40)  # orders per 100 orgs
    return WorldParams(
        orgs=max(200, round(orders / (rate / 100) / 0.9)),
        seed=100_000 + family,
        names_seed=50_000 + family,
        name_pool=rng.choice((1000, 2500, 4000)),
        now=now,
        members_per_org=members,
        partner_share=share(0.01, 0.08),
        p_partner_managed=share(0.05, 0.7),
        p_personal=share(0.01, 0.2),
        p_trial_sibling=share(0.02, 0.5),
        p_department=share(0.0, 0.3),
        p_subsidiary=share(0.0, 0.25),
        p_live_trial=share(0.0, 0.25),
        p_no_org=share(0.03, 0.35),
        p_stale_trial=share(0.05, 0.7),
        orders_per_100_orgs=rate,
        history_share=1.0,
        case_weights={
            case.value: round(weight * math.exp(rng.uniform(-1.2, 1.2)), 3)
            for case, weight in _CASE_BASE.items()
        },
        habits=habits,
    )


def labelled_world(params: WorldParams, family: int = 0) -> list[FamilyOrder]:
    """Every order of the world `params` describes, its candidates found as the finder
    finds them, with its ground truth and case (as of `params.now`)."""
    with tempfile.TemporaryDirectory(prefix="onboard-family-") as scratch:
        directory = Path(scratch)
        summary = generate_world(params, directory)
        source, queries = read_dataset(directory)
    plans = {plan.order_id: plan for plan in summary.plans}
    founds = find_candidates_of(queries, source)
    return [
        FamilyOrder(
            LabelledOrder(found, plans[found.order.order_id].true_org_id, params.now),
            plans[found.order.order_id].case,
            family,
        )
        for found in founds
    ]


def family_orders(families: list[int], orders: int = ORDERS_PER_WORLD) -> list[FamilyOrder]:
    return [o for family in families for o in labelled_world(family_params(family, orders), family)]


def _rows(directory: Path, name: str) -> list[dict[str, str]]:
    with (directory / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def read_dataset(directory: Path) -> tuple[InMemorySource, list[OrderQuery]]:
    """A dataset directory (the format `onboard import` reads) as the finder's in-memory
    source and its orders as queries, without a database."""
    orgs = [
        OrgRecord(
            row["org_id"],
            row["name"],
            timestamp(row["created_at"]),
            row["status"],
            row["country"] or None,
            row["partner_id"] or None,
        )
        for row in _rows(directory, "orgs.csv")
    ]
    domains = [(r["org_id"], r["domain"], r["status"]) for r in _rows(directory, "domains.csv")]
    members = [
        MemberRecord(
            r["org_id"],
            r["email"],
            r["status"],
            timestamp(r["last_activity_at"]) if r["last_activity_at"] else None,
        )
        for r in _rows(directory, "users.csv")
    ]
    converts = {
        r["order_id"]
        for r in _rows(directory, "order_lines.csv")
        if boolean(r["is_trial_conversion"])
    }
    queries = [
        OrderQuery(
            r["order_id"],
            r["provisioning_email"],
            r["company_name"],
            r["country"] or None,
            r["partner_id"] or None,
            r["order_id"] in converts,
        )
        for r in _rows(directory, "orders.csv")
    ]
    return InMemorySource(orgs, domains, members), queries
