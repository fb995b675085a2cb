"""Scale-out: several operator processes working one queue on one PostgreSQL, with the
outbox sender as its own process, then proof that the races lost and doubled nothing.

Each operator is a separate process with its own engine, as several app processes behind
one database are. It does what a person in the app does: reads the head of the queue
(`provisioning.orders.queue`, fresh after each action as `perform` clears the read caches), opens
an order (`order_detail`, and the finder's ranking while it awaits its org) and takes the
next step through the service layer. Operators pick from the same few rows at the head of
the same lane of the queue, so they often act on one order at once, and a share of the
Meetings set-ups claims a site name shared by everyone acting in the same second: a
`Conflict` or a refusal is the expected answer to losing such a race, counted, not failed.
(`order.open` counts the orders found decided by someone else while being opened: the
finder's ranking refuses an order that no longer awaits its org.)

Two senders (`outbox.send_every`, what `onboard outbox send --every` runs) deliver to an
SMTP server (aiosmtpd) in this process. After the run the database and the SMTP log are
checked: every order's audit trail replays from its state before the run to its state
after it (no lost update), no order was mapped twice, no e-mail was delivered twice,
every site name is unique, and no action failed with anything but a refusal.

`run_load` is the harness (the benchmark and `tests/integration/test_load.py` share it);
`run` is the benchmark: `python -m benchmarks --only load`.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import socket
import threading
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from benchmarks.harness import postgres_schema, print_table
from provisioning import finder, outbox
from provisioning.access import Actor
from provisioning.db import Database
from provisioning.demo.seed import create_demo
from provisioning.demo.world import WorldParams
from provisioning.errors import Conflict, InvalidInput, NotFound
from provisioning.finder import answers
from provisioning.models import (
    AuditEvent,
    MeetingsSite,
    Order,
    OrderService,
    Org,
    OrgApproval,
    OutboxEmail,
)
from provisioning.models.base import utcnow
from provisioning.orders import (
    ActionResult,
    answer_approval,
    check_site_name_available,
    configure_later,
    create_org,
    hand_to_customer,
    map_org,
    order_detail,
    queue,
    resend_welcome,
    set_intent,
    set_up_calling,
    set_up_meetings,
    unmap,
)
from provisioning.orders.unit import snapshot
from provisioning.orders.workflow import Action
from provisioning.outbox.smtp import message_id
from provisioning.rules import INDUSTRY_VERTICALS, name_label
from provisioning.settings import Settings
from provisioning.states import (
    ApprovalStatus,
    Intent,
    OrderState,
    OutboxStatus,
    Role,
    ServiceState,
)

MAIL_FROM = "Onboarding Desk <onboarding@load.example>"
DEADLINE_DAYS = 30
# The lanes of the queue an operator works (the queue's state filter) and how often each
# is chosen: everyone in a lane sees the same head, which is what makes them collide.
LANES: dict[str, tuple[tuple[str, ...], float]] = {
    "finder": (
        (
            OrderState.AWAITING_INTENT.value,
            OrderState.DELEGATED.value,
            OrderState.AWAITING_ORG.value,
        ),
        0.45,
    ),
    "approvals": ((OrderState.AWAITING_APPROVAL.value,), 0.15),
    "setup": ((OrderState.ORG_MAPPED.value,), 0.40),
}
HQ = {
    "name": "HQ",
    "country": "SE",
    "address_line1": "Sveavägen 1",
    "city": "Stockholm",
    "postal_code": "111 57",
}
# How long the senders get to deliver what the operators queued before the checks run.
DRAIN_SECONDS = 120.0
# Actions whose audit event records the order's own fields (`unit.snapshot`, in full or
# in part) and those that record one service's state; the rest record neither.
_ORDER_STEPS = frozenset(
    {
        Action.INTENT,
        Action.DELEGATE,
        Action.CORRECT_EMAIL,
        Action.MAP,
        Action.APPROVE,
        Action.DECLINE,
        Action.CREATE_ORG,
        Action.UNMAP,
        Action.SELF_SETUP,
        Action.COMPLETE,
    }
)
_SERVICE_STEPS = frozenset({Action.MEETINGS, Action.CALLING, Action.CONFIGURE_LATER})


def _actor(n: int) -> Actor:
    """Who operator `n` acts as: an operator (every partner's orders). Built here, not by a
    sign-in, as a load test has no passwords; the one place to change who acts."""
    return Actor(f"operator-{n}@load.example", Role.OPERATOR)


@dataclass(frozen=True, slots=True)
class LoadConfig:
    operators: int = 8
    seconds: float = 60.0
    orgs: int = 2_000  # the demo world; orders_per_100_orgs sets how many orders it has
    orders_per_100_orgs: float = 40.0
    senders: int = 2  # outbox senders running at once (as during a rolling restart)
    head: int = 3  # operators pick among this many rows at the head of their lane
    seed: int = 2026


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class LoadReport:
    config: LoadConfig
    elapsed: float  # seconds the operators worked (the slowest one's)
    outcomes: Counter[str]  # changed / repeat / conflict / refused / error
    latencies_ms: list[float]
    per_action: dict[str, list[tuple[str, float]]]  # action -> [(outcome, ms)]
    errors: list[str]  # the unexpected ones, first few
    emails_sent: int
    smtp_deliveries: int
    checks: list[Check]
    load_average: tuple[float, float, float]
    orders: int  # open orders in the world before the run

    @property
    def attempted(self) -> int:
        return sum(self.outcomes.values())

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


# --- the SMTP server ------------------------------------------------------------------


@dataclass
class _SmtpLog:
    """Keeps the Message-ID of every message the server accepted."""

    message_ids: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        headers = BytesHeaderParser().parsebytes(envelope.content)
        with self.lock:
            self.message_ids.append(str(headers["Message-ID"]))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- one operator -----------------------------------------------------------------------


def _pick_lane(rng: random.Random) -> tuple[str, ...]:
    states, weights = zip(*LANES.values(), strict=True)
    return rng.choices(states, weights)[0]


def _finder_step(
    db: Database, rng: random.Random, detail: dict[str, Any], actor: Actor
) -> tuple[str, Callable[[], ActionResult]]:
    """Who the order is for, then its org: the recommendation, else a new org."""
    order_id, state = detail["order_id"], detail["state"]
    for_customer = detail["partner_id"] is not None
    if state == OrderState.AWAITING_INTENT and rng.random() < 0.05:
        return Action.RESEND_WELCOME, lambda: resend_welcome(db, order_id, actor)
    if state == OrderState.AWAITING_INTENT and rng.random() < 0.08:
        email = f"delegate.{order_id.lower()}@load.example"
        return Action.DELEGATE, lambda: set_intent(db, order_id, "delegate", actor, email=email)
    if state != OrderState.AWAITING_ORG:
        intent = Intent.CUSTOMER if for_customer else Intent.OWN_COMPANY
        return Action.INTENT, lambda: set_intent(db, order_id, intent.value, actor)
    recommended = finder.match_one(db, order_id).recommended_org_id
    own_partner = detail["intent"] == Intent.CUSTOMER and recommended == detail["partner_id"]
    if recommended is not None and not own_partner and rng.random() >= 0.1:
        return Action.MAP, lambda: map_org(db, order_id, recommended, actor)
    industry = rng.choice(INDUSTRY_VERTICALS)
    country = detail["country"] or "SE"
    name = detail["company_name"]
    return Action.CREATE_ORG, lambda: create_org(db, order_id, name, industry, country, actor)


def _approval_step(
    db: Database, rng: random.Random, detail: dict[str, Any], actor: Actor
) -> tuple[str, Callable[[], ActionResult]]:
    """The administrator's answer; an order with no request on record is sent back."""
    order_id = detail["order_id"]
    approval = detail["approval"]
    if approval is None or approval["status"] != ApprovalStatus.PENDING:
        reason = "no approval request on record"
        return Action.UNMAP, lambda: unmap(db, order_id, reason, actor)
    approve = rng.random() < 0.8
    reason = None if approve else "not our organization"
    action = Action.APPROVE if approve else Action.DECLINE
    return action, lambda: answer_approval(db, order_id, approve, actor, reason=reason)


def _setup_step(
    db: Database, rng: random.Random, detail: dict[str, Any], actor: Actor
) -> tuple[str, Callable[[], ActionResult]] | None:
    """The first pending service, as `next_step` names it; now and then the mapping is
    reversed or the setup handed to the customer instead."""
    order_id, services = detail["order_id"], detail["services"]
    built = any(s.get("sites") or s.get("location") for s in services.values())
    if not built and rng.random() < 0.05:
        return Action.UNMAP, lambda: unmap(db, order_id, "wrong organization", actor)
    if detail["intent"] == Intent.CUSTOMER and rng.random() < 0.08:
        admin = f"admin.{order_id.lower()}@customer.example"
        return Action.SELF_SETUP, lambda: hand_to_customer(db, order_id, admin, actor)
    pending = [name for name, s in services.items() if s["state"] == ServiceState.PENDING]
    if not pending:
        return None
    service = pending[0]
    if rng.random() < (0.15 if service == "meetings" else 0.2):
        return Action.CONFIGURE_LATER, lambda: configure_later(db, order_id, service, actor)
    if service == "calling":
        return Action.CALLING, lambda: set_up_calling(db, order_id, actor, **HQ)
    if rng.random() < 0.35:
        name = f"load-{int(time.time())}"  # everyone setting up a site this second wants it
    else:
        company = detail["company_name"]
        check = check_site_name_available(db, name_label(company) or "site", company)
        name = check["name"] if check["free"] else (check["suggestions"] or ["site"])[0]
    sites = [(name, None)]
    return Action.MEETINGS, lambda: set_up_meetings(db, order_id, sites, "Europe/Stockholm", actor)


def _choose(
    db: Database, rng: random.Random, head: int, actor: Actor
) -> tuple[str, Callable[[], ActionResult]] | None:
    """Read the queue, open one of the orders at its head and decide the next step."""
    states = _pick_lane(rng)
    with db.read() as session:
        rows = queue.queue(session, queue.QueueFilter(states=states), limit=head).rows
    if not rows:
        return None
    order_id = rng.choice(rows).order_id
    with db.read() as session:
        detail = order_detail(session, order_id, DEADLINE_DAYS)
    state = detail["state"]
    if OrderState(state).awaits_org:
        return _finder_step(db, rng, detail, actor)
    if state == OrderState.AWAITING_APPROVAL:
        return _approval_step(db, rng, detail, actor)
    if state == OrderState.ORG_MAPPED:
        return _setup_step(db, rng, detail, actor)
    return None  # decided by someone else between the queue and the order page


def _operator(url: str, n: int, config: LoadConfig, ready: Any, results: Any) -> None:
    """One operator process: works the queue until its time is up, then reports every
    action as (action, outcome, milliseconds)."""
    try:
        db = Database(url)
        rng = random.Random(config.seed * 1_000 + n)
        actor = _actor(n)
        done: list[tuple[str, str, float]] = []
        errors: list[str] = []
        ready.wait()
        started = time.monotonic()
        deadline = started + config.seconds
        while time.monotonic() < deadline:
            action = "order.open"
            began = time.perf_counter()
            try:
                chosen = _choose(db, rng, config.head, actor)
                if chosen is None:
                    time.sleep(0.05)  # nothing in this lane just now
                    continue
                action, step = chosen
                began = time.perf_counter()
                result = step()
                outcome = "changed" if result.changed else "repeat"
            except Conflict:
                outcome = "conflict"
            except (InvalidInput, NotFound):
                outcome = "refused"
            except Exception as exc:
                outcome = "error"
                if len(errors) < 20:
                    errors.append(f"{action}: {type(exc).__name__}: {exc}"[:400])
            done.append((str(action), outcome, (time.perf_counter() - began) * 1000))
        db.dispose()
        results.put(
            ("operator", {"actions": done, "errors": errors, "elapsed": time.monotonic() - started})
        )
    except BaseException:
        results.put(("crash", traceback.format_exc()))


def _sender(url: str, port: int, ready: Any, stop: Any, results: Any) -> None:
    """One outbox sender process: `onboard outbox send --every` until told to stop."""
    try:
        db = Database(url)
        settings = Settings(
            database_url=url,
            smtp_host="127.0.0.1",
            smtp_port=port,
            mail_from=MAIL_FROM,
            smtp_timeout=10,
            outbox_retry_seconds=1,
        )
        sent = 0
        ready.wait()
        for report in outbox.send_every(db, settings, 0.2, stop, limit=50):
            sent += report.sent
        db.dispose()
        results.put(("sender", {"sent": sent}))
    except BaseException:
        results.put(("crash", traceback.format_exc()))


# --- the run ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Baseline:
    """The world before the run: what the audit trail of the run must replay from."""

    orders: dict[str, dict[str, Any]]  # order id -> snapshot
    versions: dict[str, int]
    services: dict[str, dict[str, str]]  # order id -> service -> state
    last_event: int
    orgs: int


def _baseline(db: Database) -> _Baseline:
    with db.read() as session:
        rows = list(session.scalars(select(Order)))
        services: dict[str, dict[str, str]] = defaultdict(dict)
        for order_id, service, state in session.execute(
            select(OrderService.order_id, OrderService.service, OrderService.state)
        ):
            services[order_id][service] = state
        return _Baseline(
            orders={o.order_id: snapshot(o) for o in rows},
            versions={o.order_id: o.version for o in rows},
            services=dict(services),
            last_event=session.scalar(select(func.coalesce(func.max(AuditEvent.id), 0))) or 0,
            orgs=session.scalar(select(func.count()).select_from(Org)) or 0,
        )


def build_world(db: Database, config: LoadConfig) -> int:
    """A demo world with its waiting orders scored, as after an import; returns how many
    orders a person can act on."""
    db.ensure_schema()
    params = WorldParams(
        orgs=config.orgs,
        seed=config.seed,
        now=utcnow(),
        orders_per_100_orgs=config.orders_per_100_orgs,
        history_share=0.1,
    )
    create_demo(db, params, "load-test@example.com")
    answers.refresh_matches(db)
    with db.read() as session:
        return queue.queue(session, limit=1).total


def run_load(url: str, config: LoadConfig) -> LoadReport:
    """Build the world in the (empty) database at `url`, run the operators and senders
    against it, and check what they left behind."""
    db = Database(url)
    smtp = _SmtpLog()
    port = _free_port()
    controller = Controller(smtp, hostname="127.0.0.1", port=port, server_hostname="localhost")
    # Forked, not spawned: a child then starts in milliseconds instead of re-importing
    # the service layer and the scorer (~15 s each on a busy 2-core machine). Each opens
    # its own engine; the parent holds no connection and runs no thread when it forks.
    ctx = mp.get_context("fork")
    ready = ctx.Barrier(config.operators + config.senders + 1)
    stop = ctx.Event()
    results = ctx.Queue()
    processes = [
        ctx.Process(target=_operator, args=(url, n, config, ready, results), daemon=True)
        for n in range(1, config.operators + 1)
    ] + [
        ctx.Process(target=_sender, args=(url, port, ready, stop, results), daemon=True)
        for _ in range(config.senders)
    ]
    with ExitStack() as cleanup:
        orders = build_world(db, config)
        before = _baseline(db)
        db.dispose()
        cleanup.callback(_end, processes, stop)
        for process in processes:
            process.start()
        controller.start()
        cleanup.callback(controller.stop)
        ready.wait(timeout=120)
        operators = [
            _result(results, "operator", config.seconds + 300) for _ in range(config.operators)
        ]
        load_average = os.getloadavg()
        _wait_for_outbox(db)
        stop.set()
        senders = [_result(results, "sender", 60) for _ in range(config.senders)]
    actions = [a for payload in operators for a in payload["actions"]]
    per_action: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for action, outcome, ms in actions:
        per_action[action].append((outcome, ms))
    outcomes = Counter(outcome for _, outcome, _ in actions)
    errors = [e for payload in operators for e in payload["errors"]]
    checks = verify(db, before, smtp.message_ids, outcomes["error"], errors)
    db.dispose()
    return LoadReport(
        config=config,
        elapsed=max(payload["elapsed"] for payload in operators),
        outcomes=outcomes,
        latencies_ms=[ms for _, _, ms in actions],
        per_action=dict(per_action),
        errors=errors[:5],
        emails_sent=sum(s["sent"] for s in senders),
        smtp_deliveries=len(smtp.message_ids),
        checks=checks,
        load_average=load_average,
        orders=orders,
    )


def _end(processes: list[Any], stop: Any) -> None:
    """Stop the senders, let every child exit, and end any that does not (a crash)."""
    stop.set()
    for process in processes:
        process.join(timeout=30)
        if process.is_alive():
            process.terminate()


def _result(results: Any, kind: str, timeout: float) -> dict[str, Any]:
    """The next child's report; a crashed child fails the run with its traceback."""
    got, payload = results.get(timeout=timeout)
    if got == "crash":
        raise RuntimeError(f"a load-test process crashed:\n{payload}")
    if got != kind:
        raise RuntimeError(f"expected a {kind} report, got a {got} one")
    return payload


def _wait_for_outbox(db: Database) -> None:
    """Until the senders have delivered everything the operators queued."""
    deadline = time.monotonic() + DRAIN_SECONDS
    waiting = [OutboxStatus.PENDING.value, OutboxStatus.SENDING.value]
    while time.monotonic() < deadline:
        with db.read() as session:
            left = session.scalar(
                select(func.count()).select_from(OutboxEmail).where(OutboxEmail.status.in_(waiting))
            )
        if not left:
            return
        time.sleep(0.2)


# --- the checks -------------------------------------------------------------------------


def verify(
    db: Database,
    before: _Baseline,
    smtp_ids: list[str],
    unexpected: int,
    errors: Iterable[str],
) -> list[Check]:
    """Every invariant the run must keep, from the database and the SMTP log."""
    with db.read() as session:
        events = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.entity_type == "order", AuditEvent.id > before.last_event)
                .order_by(AuditEvent.id)
            )
        )
        orders = {o.order_id: o for o in session.scalars(select(Order))}
        services: dict[str, dict[str, str]] = defaultdict(dict)
        for order_id, service, state in session.execute(
            select(OrderService.order_id, OrderService.service, OrderService.state)
        ):
            services[order_id][service] = state
        orgs = session.scalar(select(func.count()).select_from(Org)) or 0
        pending_twice = session.scalar(
            select(func.count()).select_from(
                select(OrgApproval.order_id)
                .where(OrgApproval.status == ApprovalStatus.PENDING.value)
                .group_by(OrgApproval.order_id)
                .having(func.count() > 1)
                .subquery()
            )
        )
        emails = list(session.execute(select(OutboxEmail.status, OutboxEmail.dedupe_key)))
        duplicate_sites = list(
            session.execute(
                select(MeetingsSite.name, func.count())
                .group_by(MeetingsSite.name)
                .having(func.count() > 1)
            )
        )
        sites = session.scalar(select(func.count()).select_from(MeetingsSite)) or 0
    trail: dict[str, list[AuditEvent]] = defaultdict(list)
    for event in events:
        trail[event.entity_id].append(event)
    broken = [
        problem
        for order_id, order in orders.items()
        if (
            problem := _replay(before, order_id, trail.get(order_id, []), order, services[order_id])
        )
    ]
    twice = [order_id for order_id, mine in trail.items() if _mapped_twice(before, order_id, mine)]
    created = [e for e in events if e.action == Action.CREATE_ORG]
    new_orgs = {e.after["org_id"] for e in created if e.after}
    sent_ids = Counter(
        message_id(key, MAIL_FROM) for status, key in emails if status == OutboxStatus.SENT
    )
    delivered = Counter(smtp_ids)
    # Cancelled: made obsolete by a later action before it went out (never delivered: the
    # SMTP log must then match the sent rows exactly).
    unsent = Counter(
        status for status, _ in emails if status not in (OutboxStatus.SENT, OutboxStatus.CANCELLED)
    )
    return [
        Check(
            "no lost update: every order's audit trail replays to its row (fields, "
            "services; version moved with every change)",
            not broken,
            f"{len(events)} events on {len(trail)} orders replayed"
            if not broken
            else f"{len(broken)} orders differ, e.g. {broken[0]}",
        ),
        Check(
            "no order mapped twice (a second map/create-org only after an audited "
            "unmap or decline), no org created twice",
            not twice and not pending_twice and len(new_orgs) == len(created) == orgs - before.orgs,
            f"{len(created)} orgs created by {len(created)} events, {orgs - before.orgs} new "
            f"rows; orders mapped twice: {twice[:3] or 'none'}; "
            f"orders with two pending approvals: {pending_twice}",
        ),
        Check(
            "no e-mail sent twice (SMTP log by Message-ID = outbox rows sent, each once)",
            delivered == sent_ids and max(delivered.values(), default=1) == 1 and not unsent,
            f"{sum(delivered.values())} delivered, {len(sent_ids)} outbox rows sent, "
            f"not sent: {dict(unsent) or 'none'}",
        ),
        Check(
            "every site name unique",
            not duplicate_sites,
            f"{sites} sites" if not duplicate_sites else f"duplicates: {duplicate_sites[:3]}",
        ),
        Check(
            "no action failed other than by a conflict or a refusal",
            unexpected == 0,
            "none" if unexpected == 0 else f"{unexpected}, e.g. {next(iter(errors), '')}",
        ),
    ]


def _replay(
    before: _Baseline,
    order_id: str,
    events: list[AuditEvent],
    order: Order,
    services: dict[str, str],
) -> str | None:
    """Why the order's events do not lead from its state before the run to its row now
    (each event's `before` must be what the previous one left), or None when they do.

    The version column (SQLAlchemy's `version_id_col`) steps once per UPDATE of the row,
    which is once per flush, not once per action: `map_org` writes the row twice in its
    transaction (an autoflush before its approver queries, then the final state). So
    the version must have moved at least once per audited change, and not at all
    without one (a write nobody audited).
    """
    fields = dict(before.orders[order_id])
    states = dict(before.services.get(order_id, {}))
    changes = 0
    for event in events:
        was, now = event.before or {}, event.after or {}
        where = f"{order_id} event {event.id} ({event.action})"
        if event.action in _SERVICE_STEPS:
            service = was["service"]
            if states.get(service) != was["state"]:
                return f"{where}: {service} was {states.get(service)}, not {was['state']}"
            states[service] = now["state"]
        elif event.action in _ORDER_STEPS:
            stale = {k: v for k, v in was.items() if k in fields and fields[k] != v}
            if stale:
                return f"{where} starts from {stale}; the order had {fields}"
            new = {k: v for k, v in now.items() if k in fields}
            changes += any(fields[k] != v for k, v in new.items())
            fields.update(new)
            if event.action == Action.UNMAP:
                states = dict.fromkeys(states, ServiceState.PENDING.value)
            if event.action == Action.SELF_SETUP:
                states.update(
                    dict.fromkeys(now["services"], ServiceState.CUSTOMER_SELF_SETUP.value)
                )
    if fields != snapshot(order):
        return f"{order_id}: the trail ends at {fields}, the row is {snapshot(order)}"
    if states != services:
        return f"{order_id}: the trail ends with services {states}, the rows are {services}"
    moved = order.version - before.versions[order_id]
    if moved < changes or (moved > 0) != (changes > 0):
        return f"{order_id}: {changes} audited changes, but the version moved {moved}"
    return None


def _mapped_twice(before: _Baseline, order_id: str, events: list[AuditEvent]) -> bool:
    """A map or create-org while the order already had its org."""
    has_org = before.orders[order_id]["org_id"] is not None
    for event in events:
        if event.action in (Action.MAP, Action.CREATE_ORG):
            if has_org:
                return True
            has_org = True
        elif event.action in (Action.UNMAP, Action.DECLINE):
            has_org = False
    return False


# --- the benchmark ----------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[round(q * (len(ordered) - 1))] if ordered else 0.0


def figures(report: LoadReport) -> dict[str, Any]:
    """The one-row summary of a run."""
    outcomes = report.outcomes
    return {
        "operators": report.config.operators,
        "seconds": report.elapsed,
        "open orders": report.orders,
        "attempted": report.attempted,
        "succeeded": outcomes["changed"],
        "repeats": outcomes["repeat"],
        "conflicts": outcomes["conflict"],
        "refusals": outcomes["refused"],
        "errors": outcomes["error"],
        "actions/s": report.attempted / report.elapsed,
        "p50 ms": _percentile(report.latencies_ms, 0.5),
        "p95 ms": _percentile(report.latencies_ms, 0.95),
        "e-mails sent": report.emails_sent,
        "load avg 1m": report.load_average[0],
    }


def per_action_rows(report: LoadReport) -> list[dict[str, Any]]:
    rows = []
    for action, done in sorted(report.per_action.items()):
        counts = Counter(outcome for outcome, _ in done)
        latencies = [ms for _, ms in done]
        rows.append(
            {
                "action": action,
                "attempted": len(done),
                "succeeded": counts["changed"],
                "repeats": counts["repeat"],
                "conflicts": counts["conflict"],
                "refusals": counts["refused"],
                "errors": counts["error"],
                "p50 ms": _percentile(latencies, 0.5),
                "p95 ms": _percentile(latencies, 0.95),
            }
        )
    return rows


def run(seconds: float, operators: int) -> None:
    """`python -m benchmarks --only load`: exits 1 when an invariant does not hold."""
    # About 4 actions take an order through the queue; size the world so it does not run dry.
    orgs = max(500, int(operators * seconds * 6))
    config = LoadConfig(operators=operators, seconds=seconds, orgs=orgs)
    with postgres_schema() as url:
        report = run_load(url, config)
    title = (
        f"scale-out load test: {operators} operator processes, {config.senders} senders, PostgreSQL"
    )
    print_table(title, [figures(report)], floatfmt=",.1f")
    print_table("per action", per_action_rows(report), floatfmt=",.1f")
    print_table(
        "invariants",
        [
            {"check": c.name, "result": "PASS" if c.passed else "FAIL", "detail": c.detail}
            for c in report.checks
        ],
    )
    for error in report.errors:
        print(f"unexpected: {error}")
    if not report.passed:
        raise SystemExit(1)
