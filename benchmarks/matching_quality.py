"""Finder quality on worlds the shipped model never saw, beside the two hand rules.

Each evaluation world differs from the training world (`provisioning.default_model`) in
seed, proportions *and* the Faker names its companies and people are drawn from. The
ground truth is the generator's plan for every order. Three finders are scored on the
same orders: the shipped model, a model trained by `onboard train` on that world's own
history (scored on the open orders only, which it never saw), and the two rules.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.harness import in_child, print_table

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TARGETS = {
    "accuracy": 0.95,
    "precision_at_1": 0.95,
    "recall_at_5": 0.98,
    "new_org_precision": 0.95,
    "new_org_recall": 0.95,
}


def worlds(orgs: int) -> list[dict[str, Any]]:
    """Evaluation worlds: other seeds, names and proportions than the training world."""
    return [
        {"orgs": orgs, "seed": 501, "names_seed": 9001, "now": NOW},
        {
            "orgs": orgs,
            "seed": 502,
            "names_seed": 9002,
            "now": NOW,
            "p_trial_sibling": 0.4,
            "p_department": 0.25,
            "p_personal": 0.15,
            "p_partner_managed": 0.6,
        },
        {
            "orgs": orgs,
            "seed": 503,
            "names_seed": 9003,
            "now": NOW,
            "members_per_org": 3.0,
            "p_subsidiary": 0.2,
            "p_live_trial": 0.15,
            "p_no_org": 0.25,
            "history_share": 0.6,
        },
    ]


def _evaluate_world(spec: dict[str, Any]) -> dict[str, Any]:
    from sqlalchemy import select

    from matching import persistence
    from matching.candidates import find_candidates
    from matching.evaluation import (
        LabelledOrder,
        metrics,
        model_finder,
        old_wizard_rule,
        predict_all,
        rule_of_thumb,
    )
    from provisioning import finder
    from provisioning.db import Database
    from provisioning.demo.seed import create_demo
    from provisioning.demo.world import WorldParams
    from provisioning.finder_source import SqlCandidateSource
    from provisioning.models import Order
    from provisioning.states import OrderState

    params = WorldParams(**spec)
    with tempfile.TemporaryDirectory() as scratch:
        db = Database(f"sqlite:///{Path(scratch) / 'world.sqlite'}")
        db.ensure_schema()
        report = create_demo(db, params, "bench@example.com")
        truth = {plan.order_id: plan.true_org_id for plan in report.plans}
        open_ids = {p.order_id for p in report.plans if p.state is not OrderState.HISTORY}
        with db.read() as session:
            source = SqlCandidateSource(session)
            labelled = {}
            for order in session.scalars(select(Order)):
                found = find_candidates(finder.order_query(order), source)
                created = f"org-for-{order.order_id}"
                found.candidates = [c for c in found.candidates if c.org_id != created]
                labelled[order.order_id] = LabelledOrder(found, truth[order.order_id], NOW)
        everything = list(labelled.values())
        open_orders = [labelled[i] for i in sorted(open_ids)]
        shipped = persistence.load_default()
        trained = finder.train(db, "bench@example.com", force=True, now=NOW)
        with db.read() as session:
            retrained = finder.active_model(session).model
        db.dispose()
    rows = {
        "shipped model, all orders": metrics(predict_all(model_finder(shipped), everything)),
        "shipped model, open orders": metrics(predict_all(model_finder(shipped), open_orders)),
        "after onboard train, open orders": metrics(
            predict_all(model_finder(retrained), open_orders)
        ),
        "rule of thumb, all orders": metrics(predict_all(rule_of_thumb, everything)),
        "old wizard rule, all orders": metrics(predict_all(old_wizard_rule, everything)),
    }
    return {
        "rows": rows,
        "held_out": trained.result.metrics,
        "world": {k: v for k, v in spec.items() if k != "now"},
    }


def run(orgs: int) -> None:
    table = []
    for spec in worlds(orgs):
        result = in_child(_evaluate_world, spec=spec)
        for finder_name, m in result["rows"].items():
            table.append(
                {
                    "world": f"seed {spec['seed']}",
                    "finder": finder_name,
                    "orders": int(m["orders"]),
                    "accuracy": m["accuracy"],
                    "p@1": m["precision_at_1"],
                    "MRR": m["mrr"],
                    "recall@5": m["recall_at_5"],
                    "new-org P": m["new_org_precision"],
                    "new-org R": m["new_org_recall"],
                    "Brier": m["brier"],
                    "errors": int(m["errors"]),
                }
            )
    print_table(
        "organization finder quality (targets: accuracy, p@1, new-org P/R >= 0.95, "
        "recall@5 >= 0.98; errors <= 1/5 of the better rule's)",
        table,
        floatfmt=".3f",
    )
