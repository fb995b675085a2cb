"""The outbox sender under faults, against a real SMTP server in this process: SIGKILL at
seeded moments of `onboard outbox send`, and PostgreSQL restarted under a running
`outbox send --every`. No e-mail may be delivered twice; every e-mail ends sent (and
delivered once), pending (and not delivered), or in `sending` (the one a killed sender
was handling, which may have been delivered: reported by the next run and by `outbox
list`, and never sent again by itself); the next command delivers the rest."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner, Result
from sqlalchemy import select

from provisioning import outbox
from provisioning.cli import cli
from provisioning.models import OutboxEmail
from provisioning.outbox.smtp import message_id
from tests.faults.conftest import (
    ROOT,
    SEED,
    opened,
    postgres_restart,
    wait_for_postgres,
)

MAIL_FROM = "Onboarding Desk <onboarding@desk.example>"
PAST = datetime(2026, 1, 5, 9, tzinfo=UTC)  # queued in the past: due for the real clock
MESSAGES = 40
KILLS = int(os.environ.get("ONBOARD_FAULT_OUTBOX_KILLS", "6"))  # per database


@dataclass
class Inbox:
    """The SMTP server's handler: every Message-ID it accepted, in order. `delay` is the
    server's think time per recipient, so a run lasts long enough to be hit."""

    delay: float = 0.0
    ids: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        await asyncio.sleep(self.delay)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.ids.append(str(message["Message-ID"]))
        return "250 Message accepted for delivery"

    def delivered(self) -> Counter[str]:
        with self.lock:
            return Counter(self.ids)

    def reset(self) -> None:
        with self.lock:
            self.ids.clear()


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, dict[str, str]]]:
    """A running SMTP server and the environment that points `onboard` at it."""
    handler = Inbox(delay=0.02)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    controller = Controller(handler, hostname="127.0.0.1", port=port, server_hostname="localhost")
    controller.start()
    env = {
        "ONBOARD_SMTP_HOST": "127.0.0.1",
        "ONBOARD_SMTP_PORT": str(port),
        "ONBOARD_MAIL_FROM": MAIL_FROM,
        "ONBOARD_SMTP_TIMEOUT": "5",
    }
    yield handler, env
    controller.stop()


def queue(url: str, first: int, count: int) -> None:
    with opened(url) as db, db.write() as session:
        for i in range(first, first + count):
            outbox.enqueue(
                session,
                dedupe_key=f"fault:{i}",
                kind="welcome",
                recipient=f"person{i}@customer.example",
                subject=f"Message {i}",
                body="Hello,\nyour order is ready to be set up.\n",
                now=PAST,
            )


def statuses(url: str) -> dict[str, tuple[int, str]]:
    """Message-ID → (outbox id, status) for every queued e-mail."""
    with opened(url) as db, db.read() as session:
        rows = session.execute(
            select(OutboxEmail.id, OutboxEmail.dedupe_key, OutboxEmail.status)
        ).all()
    return {message_id(key, MAIL_FROM): (row_id, status) for row_id, key, status in rows}


def in_process(url: str, env: dict[str, str], *args: str) -> Result:
    """The next command, run in this process (the same code, without a second start-up)."""
    return CliRunner().invoke(cli, ["--db", url, *args], env={"ONBOARD_ACTOR": "", **env})


def check(found: dict[str, tuple[int, str]], delivered: Counter[str]) -> list[str]:
    """Asserts the outbox and the server agree; returns the Message-IDs left in sending."""
    assert all(n == 1 for n in delivered.values()), "an e-mail was delivered twice"
    assert set(delivered) <= set(found)
    for mid, (_row_id, status) in found.items():
        if status == "sent":
            assert delivered[mid] == 1, f"{mid} marked sent but never delivered"
        elif status == "pending":
            assert delivered[mid] == 0, f"{mid} delivered but still pending"
        else:
            assert status == "sending", status
    return [mid for mid, (_id, status) in found.items() if status == "sending"]


def _wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def sender(url: str, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """`onboard --db URL outbox send ARGS` as its own process."""
    command = [sys.executable, "-c", "from provisioning.cli import main; main()"]
    return subprocess.Popen(
        [*command, "--db", url, "outbox", "send", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ONBOARD_ACTOR": "", **env},
    )


def test_a_killed_sender_delivers_nothing_twice_and_the_next_run_reports_what_it_left(
    new_database: Callable[[], str], inbox: tuple[Inbox, dict[str, str]]
) -> None:
    """Each kill lands a seeded 0–40 ms after the server accepted a seeded message (the
    k-th): around the moment the sender marks it sent and takes the next one, whatever
    the machine's load does to the process's start-up."""
    server, env = inbox
    rng = random.Random(f"{SEED}:outbox")
    kills = stuck = stuck_delivered = 0
    for trial in range(KILLS):
        server.reset()
        url = new_database()
        queue(url, 0, MESSAGES)
        after_message, jitter = rng.randint(1, MESSAGES - 2), rng.uniform(0, 0.04)
        process = sender(url, env)
        try:
            _wait_for(lambda n=after_message: len(server.delivered()) >= n, 60, "deliveries")
            time.sleep(jitter)
        finally:
            process.kill()
            process.communicate()
        kills += process.returncode == -signal.SIGKILL
        left = check(statuses(url), server.delivered())
        stuck += len(left)
        stuck_delivered += sum(1 for mid in left if server.delivered()[mid])
        assert len(left) <= 1, f"trial {trial}"  # one message at a time is in the window

        again = in_process(url, env, "outbox", "send")
        assert again.exit_code == 0, again.output
        if left:
            assert f"{len(left)} e-mail(s) in `sending`" in again.stderr
            assert "may have been delivered" in again.stderr
            assert "--may-duplicate" in again.stderr
        else:
            assert again.stderr == ""
        after = statuses(url)
        assert check(after, server.delivered()) == left  # stuck ones are not re-sent
        assert {status for _id, status in after.values()} <= {"sent", "sending"}

        listed = in_process(url, env, "outbox", "list", "--status", "sending", "--format", "json")
        assert listed.exit_code == 0, listed.output
        rows = json.loads(listed.stdout) if left else []
        assert sorted(row["id"] for row in rows) == sorted(after[mid][0] for mid in left)
        assert all(row["may_have_been_delivered"] and row["claimed_at"] for row in rows)

    print(
        f"\noutbox kills: {kills}, {stuck} left in sending "
        f"({stuck_delivered} of them delivered), no duplicates"
    )
    assert kills == KILLS  # each kill landed while the sender was sending


@pytest.mark.postgres
@pytest.mark.parametrize("new_database", ["postgresql"], indirect=True)  # SQLite: no server
def test_a_running_sender_outlives_a_postgresql_restart_and_delivers_everything_once(
    new_database: Callable[[], str], inbox: tuple[Inbox, dict[str, str]]
) -> None:
    url = new_database()
    server, env = inbox
    server.delay = 0.08  # a run of 40 lasts ~3 s: the restart lands inside it
    queue(url, 0, MESSAGES)
    process = sender(url, env, "--every", "1", "--format", "jsonl")
    try:
        _wait_for(lambda: len(server.delivered()) >= 5, 30, "the first deliveries")
        postgres_restart()
        wait_for_postgres(url)
        assert process.poll() is None, "the sender died with the database"
        queue(url, MESSAGES, 10)  # queued after the restart: the sender carries on
        total = MESSAGES + 10

        def all_sent() -> bool:
            found = statuses(url)
            return len(found) == total and all(s == "sent" for _id, s in found.values())

        _wait_for(all_sent, 45, "every e-mail to be marked sent")
        assert process.poll() is None
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)

    assert process.returncode == 0, err
    delivered = server.delivered()
    assert len(delivered) == total and set(delivered.values()) == {1}  # exactly once
    assert set(statuses(url)) == set(delivered)
    assert "Traceback" not in err
    [warning] = [line for line in err.splitlines() if line.strip()]  # one line, the outage
    print(f"\nafter the restart: {warning}")
    assert warning.startswith("warning: cannot reach the database"), warning
    assert "tries again" in warning
    assert "SELECT" not in warning and "UPDATE" not in warning and "@" not in warning
    reports = [json.loads(line) for line in out.splitlines()]
    assert sum(r["sent"] for r in reports) == total
    with opened(url) as db:
        assert outbox.sending(db, timedelta(0)).count == 0  # nothing left in `sending`
