"""SIGKILL at seeded moments of an import, a `match --all --save` and a stream of order
actions: the database is as before or as after each transaction, never in between, and
the next run works and says what it found."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from provisioning.dataset import import_dataset
from provisioning.models import AuditEvent, Order, OrderMatch, Org
from tests.faults.conftest import (
    ROOT,
    fingerprint,
    moments,
    onboard,
    opened,
    startup_seconds,
)
from tests.people import OPERATOR, add_accounts

KILLS = 4  # per scenario and database


def test_a_killed_import_leaves_the_database_as_before_or_as_after(
    new_database: Callable[[], str], world_dir: Path
) -> None:
    reference = new_database()
    with opened(reference) as db:
        empty = fingerprint(db)
    clean = onboard(reference, "import", str(world_dir))
    assert clean.returncode == 0, clean.stderr
    with opened(reference) as db:
        loaded = fingerprint(db)

    outcomes = []
    for moment in moments(startup_seconds() * 0.9, clean.seconds * 1.1, KILLS, "import"):
        url = new_database()
        killed = onboard(url, "import", str(world_dir), kill_after=moment)
        with opened(url) as db:
            found = fingerprint(db)
        assert found in (empty, loaded), f"between before and after, killed at {moment:.2f} s"
        outcomes.append("after" if found == loaded else "before")
        again = onboard(url, "import", str(world_dir), "--format", "json")
        assert again.returncode == 0, again.stderr
        with opened(url) as db:
            assert fingerprint(db) == loaded
        if found == loaded:  # the killed run had committed: the retry says nothing changed
            assert '"changed": 0' in again.stdout
        assert killed.killed or found == loaded
    assert outcomes  # at least one kill landed (see the seeded moments)


def _scored(url: str) -> tuple[int, int]:
    """(stored finder answers, orders the audit trail says were scored)."""
    with opened(url) as db, db.read() as session:
        stored = len(session.scalars(select(OrderMatch.order_id)).all())
        events = session.scalars(
            select(AuditEvent.after).where(AuditEvent.action == "finder.scored")
        ).all()
    return stored, sum(int(e["orders"]) for e in events if e)


def test_a_killed_match_save_keeps_whole_audited_batches(
    new_database: Callable[[], str], world_dir: Path
) -> None:
    def world() -> str:
        url = new_database()
        with opened(url) as db:
            import_dataset(db, world_dir, "faults")
            add_accounts(db, OPERATOR)
        return url

    save = ("match", "--all", "--save", "--format", "jsonl", "--actor", OPERATOR.email)
    reference = world()
    clean = onboard(reference, *save)
    assert clean.returncode == 0, clean.stderr
    total, _ = _scored(reference)
    assert total > 500  # more than one batch, so a kill can land between two

    for moment in moments(startup_seconds(), clean.seconds * 1.1, KILLS, "match"):
        url = world()
        onboard(url, *save, kill_after=moment)
        stored, audited = _scored(url)
        assert stored == audited  # each batch stored whole, with its audit event, or not
        assert stored in range(0, total + 1)
        again = onboard(url, *save)
        assert again.returncode == 0, again.stderr
        assert _scored(url)[0] == total


def _consistent(url: str) -> int:
    """Every order's row agrees with its last audit event (both written in one
    transaction), and every org created has its event. Returns the orders acted on."""
    with opened(url) as db, db.read() as session:
        last_state: dict[str, str] = {}
        for entity_id, after in session.execute(
            select(AuditEvent.entity_id, AuditEvent.after)
            .where(AuditEvent.entity_type == "order", AuditEvent.actor == OPERATOR.email)
            .order_by(AuditEvent.id)
        ):
            if after and "state" in after and "intent" in after:
                last_state[entity_id] = after["state"]
        rows = dict(
            session.execute(
                select(Order.order_id, Order.state).where(Order.order_id.in_(last_state))
            ).all()
        )
        assert rows == last_state
        created = session.scalars(select(Org.name).where(Org.name.like("Org of %"))).all()
        events = session.scalars(
            select(AuditEvent.entity_id).where(AuditEvent.action == "order.create_org")
        ).all()
        assert sorted(created) == sorted(f"Org of {order_id}" for order_id in events)
    return len(last_state)


def test_a_killed_stream_of_order_actions_loses_no_update(
    new_database: Callable[[], str], world_dir: Path
) -> None:
    url = new_database()
    with opened(url) as db:
        import_dataset(db, world_dir, "faults")
    stream = [sys.executable, "-m", "tests.faults.order_actions", url]
    started = time.monotonic()
    subprocess.run([*stream, "20"], cwd=ROOT, check=True, capture_output=True, timeout=300)
    per_run = time.monotonic() - started
    acted = _consistent(url)
    for moment in moments(startup_seconds(), per_run * 1.5, KILLS, "actions"):
        process = subprocess.Popen([*stream, "40"], cwd=ROOT, stdout=subprocess.DEVNULL)
        try:
            process.wait(timeout=moment)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        now_acted = _consistent(url)
        assert now_acted >= acted
        acted = now_acted
    finished = subprocess.run([*stream, "5"], cwd=ROOT, capture_output=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert _consistent(url) >= acted
