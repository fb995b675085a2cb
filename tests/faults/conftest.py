"""Fault injection: the real `onboard` process, killed or starved at chosen moments.

Each scenario measures the clean run first, then kills (SIGKILL: no clean-up runs) or
breaks the environment at moments spread over that run, from a seeded generator so a
failure can be replayed. Afterwards the database must be as before or as after, never in
between, and the next command must work and say what it found.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from provisioning.db import Database
from provisioning.demo.world import WorldParams, generate_world
from provisioning.models import Base, Order, OrderMatch
from tests.conftest import private_postgres_schema

ROOT = Path(__file__).resolve().parents[2]
SEED = int(os.environ.get("ONBOARD_FAULT_SEED", "20261202"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.slow)


@dataclass
class Run:
    """A finished (or killed) `onboard` process."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    killed: bool


def onboard(
    url: str, *args: str, kill_after: float | None = None, env: dict[str, str] | None = None
) -> Run:
    """Run `onboard --db URL ARGS` as its own process; SIGKILL it after `kill_after` s."""
    command = [sys.executable, "-c", "from provisioning.cli import main; main()"]
    started = time.monotonic()
    process = subprocess.Popen(
        [*command, "--db", url, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ONBOARD_ACTOR": "", **(env or {})},
    )
    killed = False
    try:
        out, err = process.communicate(timeout=kill_after)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        out, err = process.communicate()
        killed = True
    return Run(process.returncode, out, err, time.monotonic() - started, killed)


def moments(start: float, end: float, count: int, salt: str) -> list[float]:
    """`count` seeded moments between `start` and `end` seconds, sorted."""
    rng = random.Random(f"{SEED}:{salt}")
    return sorted(rng.uniform(start, end) for _ in range(count))


def startup_seconds() -> float:
    """How long the command takes to start before it touches anything (measured once)."""
    global _STARTUP
    if _STARTUP is None:
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-c", "from provisioning.cli import main; main()", "--version"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        _STARTUP = time.monotonic() - started
    return _STARTUP


_STARTUP: float | None = None


def fingerprint(db: Database) -> dict[str, object]:
    """What "as before or as after" compares: every table's row count, the orders' states
    and versions summed, the stored finder answers."""
    with db.read() as session:
        counts = {
            name: session.scalar(select(func.count()).select_from(table))
            for name, table in sorted(Base.metadata.tables.items())
            if name not in {"link_failures"}
        }
        states = dict(
            session.execute(select(Order.state, func.count()).group_by(Order.state)).all()
        )
        versions = session.scalar(select(func.coalesce(func.sum(Order.version), 0)))
        matches = session.scalar(select(func.count()).select_from(OrderMatch))
    return {"counts": counts, "states": states, "versions": versions, "matches": matches}


def one_line_failure(run: Run) -> str:
    """The single line a failing command printed (no traceback, no SQL)."""
    lines = [line for line in run.stderr.strip().splitlines() if line.strip()]
    assert "Traceback" not in run.stderr, run.stderr
    assert len(lines) == 1, run.stderr
    assert "SELECT" not in lines[0] and "INSERT" not in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo world's dataset, big enough that loading it takes a few seconds."""
    directory = tmp_path_factory.mktemp("world")
    generate_world(WorldParams(orgs=2500, seed=5, orders_per_100_orgs=50.0), directory)
    return directory


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Makes empty, migrated databases of one backend: each call another one."""
    with ExitStack() as stack:
        numbers = itertools.count()

        def make() -> str:
            if request.param == "sqlite":
                url = f"sqlite:///{tmp_path / f'db{next(numbers)}.sqlite'}"
            else:
                url = stack.enter_context(private_postgres_schema())
            db = Database(url)
            db.ensure_schema()
            db.dispose()
            return url

        yield make


@contextmanager
def opened(url: str) -> Iterator[Database]:
    db = Database(url)
    try:
        yield db
    finally:
        db.dispose()


def postgres_restart() -> None:
    """Restart the local PostgreSQL cluster (what an operator's failover or a crash does)."""
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart", "-m", "fast"],
        check=True,
        capture_output=True,
        timeout=120,
    )


def wait_for_postgres(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        db = Database(url)
        try:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
        finally:
            db.dispose()
