"""Putting a demo world into a database: import its dataset, then give its open orders the
workflow states of their plans (who decided what, when), all in one transaction.

The dataset goes through the real importer, so the demo exercises the same path as
production data; only the workflow overlay is demo-specific.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import bindparam, delete, exists, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from matching.candidates import DOMAIN_LIMIT, NAME_LIMIT, PARTNER_LIMIT
from matching.matcher import MatchResult, match_orders
from matching.normalize import name_key, name_token
from matching.vocabulary import OrgStatus
from provisioning.audit import SYSTEM
from provisioning.dataset.importer import ImportReport, load_dataset
from provisioning.db import Database
from provisioning.demo import records
from provisioning.demo.accounts import DemoAccount, demo_accounts_in
from provisioning.demo.world import DECIDED_STATES, OrderPlan, WorldParams, generate_world
from provisioning.errors import Conflict
from provisioning.finder.active import active_model
from provisioning.finder.running import MATCH_BATCH, order_query, trial_conversions
from provisioning.finder.source import PrefetchingSource
from provisioning.models import AuditEvent, Order, OrderService, Org, OutboxEmail
from provisioning.states import Decision, OrderState, OutboxStatus

AUDIT_ACTION = "demo.generate"


@dataclass(frozen=True, slots=True)
class DemoReport:
    imported: ImportReport
    orders_by_state: dict[str, int]
    plans: list[OrderPlan]
    accounts: list[DemoAccount] = field(default_factory=list)  # with their passwords, once


def database_is_empty(db: Database) -> bool:
    with db.read() as session:
        return not session.scalar(select(exists().where(Org.org_id.is_not(None))))


def create_demo(
    db: Database,
    params: WorldParams,
    actor: str,
    out_dir: Path | None = None,
    *,
    with_accounts: bool = False,
) -> DemoReport:
    """Generate the world (into `out_dir` too, when given) and load it into an empty
    database, with one account per role when `with_accounts`: all in one transaction, so
    a refusal at any point leaves the database as it was."""
    if not database_is_empty(db):
        raise Conflict("the database already holds orgs; the demo only fills an empty database")
    with tempfile.TemporaryDirectory(prefix="onboard-demo-") as scratch:
        directory = out_dir or Path(scratch)
        world = generate_world(params, directory)
        with db.write_connection() as conn:
            imported = load_dataset(conn, directory, actor, now=params.now)
            with Session(bind=conn) as session:
                plans = records.reachable(session, world.plans)
            _apply_plans(conn, plans, params.now, actor)
            with Session(bind=conn) as session:
                records.leave_records(session, plans, params.now, actor)
                people = demo_accounts_in(session, params.now, actor) if with_accounts else []
                session.flush()
            states = Counter(plan.state.value for plan in plans)
            conn.execute(
                insert(AuditEvent.__table__).values(
                    at=params.now,
                    actor=actor,
                    role=SYSTEM,
                    action=AUDIT_ACTION,
                    entity_type="dataset",
                    entity_id="demo",
                    after={"orgs": params.orgs, "seed": params.seed, "orders": dict(states)},
                )
            )
    db.refresh_statistics()
    return DemoReport(imported, dict(sorted(states.items())), plans, people)


def _apply_plans(conn: Connection, plans: list[OrderPlan], now: datetime, actor: str) -> None:
    open_plans = [plan for plan in plans if plan.state is not OrderState.HISTORY]
    answers, answered_by = _answers_at_decision(
        conn, [plan.order_id for plan in open_plans if plan.state in DECIDED_STATES], now
    )
    new_orgs = _create_orgs_for_new_customers(conn, open_plans, now)
    orders = Order.__table__
    rows = []
    for plan in open_plans:
        decided = plan.state in DECIDED_STATES
        org_id = new_orgs.get(plan.order_id, plan.true_org_id) if decided else None
        changed_at = now - plan.state_age
        answer = answers.get(plan.order_id)
        rows.append(
            {
                "key": plan.order_id,
                "state": plan.state.value,
                "state_changed_at": changed_at,
                "intent": plan.intent.value if plan.intent else None,
                "delegate_email": plan.delegate_email,
                "org_id": org_id,
                "new_org": decided and plan.true_org_id is None,
                "decision": _decision(plan, answer) if decided else None,
                "recommended_org_id": answer.recommended_org_id if answer else None,
                "recommended_confidence": float(answer.confidence) if answer else None,
                "recommended_review": answer.review.value if answer else None,
                "recommended_by_model": answered_by if answer else None,
                "decided_by": actor if decided else None,
                "decided_at": changed_at if decided else None,
            }
        )
    if rows:
        statement = (
            update(orders)
            .where(orders.c.order_id == bindparam("key"))
            .values(version=orders.c.version + 1, updated_at=now)
        )
        conn.execute(statement, rows)
        _welcomes_sent_long_ago(conn, [p.order_id for p in open_plans if p.state is not _NEW])
    services = OrderService.__table__
    service_rows = [
        {"key": plan.order_id, "svc": service, "state": state.value}
        for plan in open_plans
        for service, state in plan.services.items()
    ]
    if service_rows:
        conn.execute(
            update(services)
            .where(services.c.order_id == bindparam("key"), services.c.service == bindparam("svc"))
            .values(state=bindparam("state"), updated_at=now),
            service_rows,
        )


_NEW = OrderState.AWAITING_INTENT


def _welcomes_sent_long_ago(conn: Connection, order_ids: list[str]) -> None:
    """The import queued a welcome for every open order; an order the demo moves past
    awaiting intent had its welcome long ago, before the desk's records begin (someone
    already answered it), so that queued e-mail is dropped, in the same transaction:
    sending it now, with a fresh link, would write to a person who already acted, and
    recording it as sent would claim a delivery the outbox never made. The demo's orders
    still awaiting intent keep their welcome queued: `outbox send` delivers it, link and
    all."""
    if not order_ids:
        return
    outbox = OutboxEmail.__table__
    conn.execute(
        delete(outbox).where(
            outbox.c.order_id == bindparam("key"),
            outbox.c.kind == "welcome",
            outbox.c.status == OutboxStatus.PENDING.value,
        ),
        [{"key": order_id} for order_id in order_ids],
    )


def _decision(plan: OrderPlan, answer: MatchResult | None) -> str:
    """The operator decided right (the plan's truth); whether that accepted the finder's
    answer is the finder's own business."""
    if plan.true_org_id is None:
        return Decision.CREATED_ORG.value
    accepted = answer is None or answer.recommended_org_id == plan.true_org_id
    return (Decision.ACCEPTED if accepted else Decision.CHOSE_OTHER).value


def _answers_at_decision(
    conn: Connection, order_ids: list[str], now: datetime
) -> tuple[dict[str, MatchResult], str]:
    """What the finder answered the demo's decided orders, recorded with their decisions
    as `orders.map_org` records it: the model in use (the shipped one, in a new demo)
    ranking each order in batches before the orgs created for new customers exist.

    Ranked as of the world's present rather than each decision's day: the world has no
    past of its own to rank against, and the decisions are weeks old at most. The
    history orders (imported labels) keep no answer, as real imported history has none.
    """
    results: dict[str, MatchResult] = {}
    with Session(bind=conn) as session:
        active = active_model(session)
        for start in range(0, len(order_ids), MATCH_BATCH):
            batch = order_ids[start : start + MATCH_BATCH]
            converting = trial_conversions(session, batch)
            orders = session.scalars(select(Order).where(Order.order_id.in_(batch))).all()
            queries = [order_query(order, order.order_id in converting) for order in orders]
            source = PrefetchingSource(session)
            source.prefetch(queries, DOMAIN_LIMIT, NAME_LIMIT, PARTNER_LIMIT)
            ranked = match_orders(queries, source, active.model, now)
            results.update((result.order_id, result) for result in ranked)
    return results, str(active.version)


def _create_orgs_for_new_customers(
    conn: Connection, plans: list[OrderPlan], now: datetime
) -> dict[str, str]:
    """Decided orders of companies that had no org got one created for them."""
    wanted = [p for p in plans if p.state in DECIDED_STATES and p.true_org_id is None]
    if not wanted:
        return {}
    orders = Order.__table__
    details = conn.execute(
        select(orders.c.order_id, orders.c.company_name, orders.c.country).where(
            orders.c.order_id.in_([p.order_id for p in wanted])
        )
    ).all()
    ages = {p.order_id: p.state_age for p in wanted}
    created = {order_id: f"org-for-{order_id}"[:64] for order_id, _, _ in details}
    conn.execute(
        insert(Org.__table__),
        [
            {
                "org_id": created[order_id],
                "name": company,
                "name_key": name_key(company),
                "name_token": name_token(name_key(company)),
                "country": country,
                "industry": None,
                "created_at": now - ages[order_id],
                "status": OrgStatus.ACTIVE.value,
                "partner_id": None,
            }
            for order_id, company, country in details
        ],
    )
    return created
