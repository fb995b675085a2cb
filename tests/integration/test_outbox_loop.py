"""`onboard outbox send --every`: the sender as its own long-running process. It keeps
delivering what is queued while it runs, outlives an unreachable SMTP server, and ends
cleanly on SIGTERM. Run as a real process, since signals are what stop it; on SQLite
only, as the loop is the same on every database (test_outbox covers the sending itself)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from provisioning import outbox
from provisioning.db import Database
from provisioning.models import OutboxEmail
from provisioning.states import OutboxStatus

pytestmark = pytest.mark.slow

PAST = datetime(2026, 1, 5, 9, tzinfo=UTC)  # queued in the past: due for the real clock


@dataclass
class Recipients:
    """The SMTP server's handler: who each accepted message went to."""

    seen: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.seen.extend(envelope.rcpt_tos)
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.seen)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Database]:
    database = Database(sqlite_url)
    database.ensure_schema()
    yield database
    database.dispose()


@pytest.fixture
def smtp() -> Iterator[tuple[Recipients, int]]:
    handler, port = Recipients(), _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, server_hostname="localhost")
    controller.start()
    yield handler, port
    controller.stop()


def queue(db: Database, key: str, recipient: str) -> None:
    with db.write() as session:
        outbox.enqueue(
            session,
            dedupe_key=key,
            kind="welcome",
            recipient=recipient,
            subject="Your Webex order",
            body="Hello\n",
            now=PAST,
        )


def sender(db: Database, port: int) -> subprocess.Popen[str]:
    """`onboard outbox send --every 0.2 --format jsonl` in its own process."""
    env = {
        **os.environ,
        "ONBOARD_SMTP_HOST": "127.0.0.1",
        "ONBOARD_SMTP_PORT": str(port),
        "ONBOARD_SMTP_TIMEOUT": "5",
    }
    command = "from provisioning.cli import main; main()"
    args = ["--db", db.url, "outbox", "send", "--every", "0.2", "--format", "jsonl"]
    return subprocess.Popen(
        [sys.executable, "-c", command, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def until(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGTERM, as a service manager stops it; the output once it has exited."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_sender_keeps_sending_until_sigterm_ends_it(
    db: Database, smtp: tuple[Recipients, int]
) -> None:
    received, port = smtp
    queue(db, "welcome:ORD-1", "alice@customer.example")
    process = sender(db, port)

    until(lambda: received.count() == 1)
    queue(db, "welcome:ORD-2", "bob@customer.example")  # while it waits between runs
    until(lambda: received.count() == 2)
    out, err = stop(process)

    assert process.returncode == 0, err
    runs = [json.loads(line) for line in out.splitlines()]
    assert [run["sent"] for run in runs] == [1, 1]  # runs with nothing due print nothing
    assert received.seen == ["alice@customer.example", "bob@customer.example"]


def test_an_unreachable_server_does_not_end_the_sender(db: Database) -> None:
    queue(db, "welcome:ORD-1", "alice@customer.example")
    process = sender(db, _free_port())  # nobody listens there

    def postponed() -> bool:
        with db.read() as session:
            return session.scalars(select(OutboxEmail)).one().last_error is not None

    until(postponed)
    time.sleep(0.5)  # a few more runs
    assert process.poll() is None  # still running
    out, err = stop(process)

    assert process.returncode == 0, err
    assert "warning: cannot open an SMTP session" in err
    assert json.loads(out.splitlines()[0])["unreachable"]
    with db.read() as session:
        email = session.scalars(select(OutboxEmail)).one()
    assert (email.status, email.attempts) == (OutboxStatus.PENDING, 0)
