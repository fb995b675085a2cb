"""Sign-in sessions behind the cookie: they last a working day across reloads, end on
sign-out, on disabling the account, on a new password and when an admin revokes them;
only hashes are kept; a link's token is never a session, nor the reverse."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from provisioning.access import Actor, Role, accounts, links, sessions
from provisioning.access.links import LinkRefused
from provisioning.cli import cli
from provisioning.dataset import import_dataset
from provisioning.db import Database
from provisioning.errors import Forbidden, InvalidInput, NotFound
from provisioning.models import AuditEvent, SignInSession, utcnow
from provisioning.states import LinkRole
from tests.conftest import FIXTURES
from tests.people import ADMIN, OPERATOR

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 24, 8, tzinfo=UTC)
PASSWORD = "a-long-enough-password"
KEY = b"k" * 32
KIM = "kim@example.com"


@pytest.fixture
def people(db: Database) -> Database:
    accounts.add_account(db, None, ADMIN.email, Role.ADMIN, password=PASSWORD)
    accounts.add_account(db, ADMIN, KIM, Role.OPERATOR, password=PASSWORD)
    return db


def _signed_in(db: Database, email: str = KIM, at: datetime = NOW) -> tuple[int, str]:
    """Sign in, and the browser's side of the hand-off: the session id and the cookie."""
    actor = accounts.sign_in(db, email, PASSWORD, now=at)
    started = sessions.start(db, actor, hours=10, client="Chromium", now=at)
    cookie = sessions.hand_off(db, started.handoff, KEY, now=at + timedelta(seconds=2))
    assert cookie is not None
    return started.session_id, cookie


def test_a_session_lasts_its_hours_across_reloads_and_keeps_only_hashes(people: Database) -> None:
    actor = accounts.sign_in(people, KIM, PASSWORD, now=NOW)
    started = sessions.start(people, actor, hours=10, client="Chromium", now=NOW)
    # The tab that signed in is signed in before its browser got the cookie ...
    assert sessions.current(people, started.session_id, now=NOW).actor == actor
    cookie = sessions.hand_off(people, started.handoff, KEY, now=NOW + timedelta(seconds=1))
    assert cookie is not None and cookie.startswith(sessions.TOKEN_PREFIX)
    # ... the nonce works once only, and is not a cookie itself.
    assert sessions.hand_off(people, started.handoff, KEY, now=NOW) is None
    assert sessions.from_cookie(people, sessions.sign(started.handoff, KEY), KEY, NOW) is None

    # A reload or a new tab: the cookie signs the same person in, for ten hours.
    for later in (timedelta(minutes=5), timedelta(hours=9, minutes=59)):
        found = sessions.from_cookie(people, cookie, KEY, now=NOW + later)
        assert found is not None and found.actor == actor and found.handed_off
    assert sessions.from_cookie(people, cookie, KEY, now=NOW + timedelta(hours=10)) is None
    assert sessions.current(people, started.session_id, now=NOW + timedelta(hours=10)) is None

    token = cookie.rpartition(".")[0]
    with people.read() as session:
        stored = session.scalars(select(SignInSession.token_hash)).all()
    assert stored == [sessions.token_hash(token)]
    assert token not in stored[0] and started.handoff not in stored[0]


def test_a_nonce_not_handed_off_within_two_minutes_is_void(people: Database) -> None:
    actor = accounts.sign_in(people, KIM, PASSWORD, now=NOW)
    started = sessions.start(people, actor, hours=10, now=NOW)
    late = NOW + sessions.HANDOFF_TTL + timedelta(seconds=1)
    assert sessions.hand_off(people, started.handoff, KEY, now=late) is None
    assert sessions.hand_off(people, "sh_" + "x" * 43, KEY, now=NOW) is None


def test_sign_out_ends_the_session_everywhere(people: Database) -> None:
    session_id, cookie = _signed_in(people)
    other_tab = sessions.from_cookie(people, cookie, KEY, now=NOW)
    assert other_tab is not None and other_tab.session_id == session_id
    assert sessions.end(people, cookie=cookie, key=KEY, now=NOW + timedelta(minutes=1))
    assert sessions.from_cookie(people, cookie, KEY, now=NOW + timedelta(minutes=2)) is None
    assert sessions.current(people, session_id, now=NOW + timedelta(minutes=2)) is None
    assert not sessions.end(people, session_id=session_id, now=NOW + timedelta(minutes=3))
    # A second sign-in is a new session; the old cookie stays dead.
    _new_id, new_cookie = _signed_in(people, at=NOW + timedelta(minutes=5))
    assert sessions.from_cookie(people, new_cookie, KEY, now=NOW + timedelta(minutes=6))
    assert sessions.from_cookie(people, cookie, KEY, now=NOW + timedelta(minutes=6)) is None


def test_disabling_the_account_ends_its_sessions_and_enabling_does_not_revive_them(
    people: Database,
) -> None:
    _id, cookie = _signed_in(people)
    _id2, admins = _signed_in(people, ADMIN.email)
    admin = accounts.actor_for(people, ADMIN.email)
    assert accounts.set_disabled(people, admin, KIM, True, now=NOW + timedelta(minutes=1))
    assert sessions.from_cookie(people, cookie, KEY, now=NOW + timedelta(minutes=2)) is None
    assert sessions.from_cookie(people, admins, KEY, now=NOW + timedelta(minutes=2))
    assert accounts.set_disabled(people, admin, KIM, False, now=NOW + timedelta(minutes=3))
    assert sessions.from_cookie(people, cookie, KEY, now=NOW + timedelta(minutes=4)) is None
    with people.read() as session:
        reason = session.scalar(
            select(SignInSession.revoked_reason).where(SignInSession.account_email == KIM)
        )
    assert reason == "account disabled"


def test_a_new_password_ends_every_session_of_the_account(people: Database) -> None:
    _a, first = _signed_in(people)
    _b, second = _signed_in(people, at=NOW + timedelta(minutes=1))
    admin = accounts.actor_for(people, ADMIN.email)
    accounts.set_password(people, admin, KIM, "another-long-password", now=NOW + timedelta(hours=1))
    later = NOW + timedelta(hours=1, minutes=1)
    assert sessions.from_cookie(people, first, KEY, now=later) is None
    assert sessions.from_cookie(people, second, KEY, now=later) is None


def test_an_admin_lists_and_revokes_sessions_audited(people: Database) -> None:
    kim_tab, kim_cookie = _signed_in(people)
    _other, kim_phone = _signed_in(people, at=NOW + timedelta(minutes=1))
    _admin_tab, admin_cookie = _signed_in(people, ADMIN.email, at=NOW + timedelta(minutes=2))
    admin = accounts.actor_for(people, ADMIN.email)
    at = NOW + timedelta(minutes=3)

    listed = sessions.list_sessions(people, admin, now=at)
    assert [row.email for row in listed] == [ADMIN.email, KIM, KIM]  # newest first
    assert listed[-1].client == "Chromium" and listed[-1].id == kim_tab
    assert all("token" not in str(row.to_dict()) for row in listed)
    assert [r.id for r in sessions.list_sessions(people, admin, KIM, now=at)][-1] == kim_tab
    with pytest.raises(Forbidden):
        sessions.list_sessions(people, OPERATOR, now=at)
    with pytest.raises(Forbidden):
        sessions.revoke(people, OPERATOR, email=KIM, now=at)

    assert sessions.revoke(people, admin, session_id=kim_tab, now=at) == 1
    assert sessions.from_cookie(people, kim_cookie, KEY, now=at) is None
    assert sessions.from_cookie(people, kim_phone, KEY, now=at) is not None
    assert sessions.revoke(people, admin, session_id=kim_tab, now=at) == 0  # a repeat
    assert sessions.revoke(people, admin, email=KIM, now=at) == 1
    assert sessions.from_cookie(people, kim_phone, KEY, now=at) is None
    assert sessions.from_cookie(people, admin_cookie, KEY, now=at) is not None
    assert [row.email for row in sessions.list_sessions(people, admin, now=at)] == [ADMIN.email]

    with people.read() as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "account.end_sessions")
            .order_by(AuditEvent.id)
        ).all()
    assert [(e.actor, e.entity_id, e.after) for e in events] == [
        (ADMIN.email, KIM, {"ended": 1, "session": kim_tab}),
        (ADMIN.email, KIM, {"ended": 1}),
    ]
    with pytest.raises(NotFound):
        sessions.revoke(people, admin, session_id=999_999, now=at)
    with pytest.raises(NotFound):
        sessions.revoke(people, admin, email="nobody@example.com", now=at)
    with pytest.raises(InvalidInput):
        sessions.revoke(people, admin, now=at)


def test_a_tampered_or_foreign_cookie_is_refused(people: Database) -> None:
    _id, cookie = _signed_in(people)
    token, _dot, signature = cookie.rpartition(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    other_token = token[:-1] + ("A" if token[-1] != "A" else "B")
    for forged in (
        f"{token}.{flipped}",  # the signature altered
        f"{other_token}.{signature}",  # the token altered
        sessions.sign(token, b"another key"),  # signed with another key
        token,  # no signature
        "",
        "x" * 5000,
    ):
        assert sessions.from_cookie(people, forged, KEY, now=NOW) is None, forged
    assert sessions.from_cookie(people, cookie, KEY, now=NOW) is not None


def test_a_link_token_is_no_session_and_a_session_token_no_link(people: Database) -> None:
    import_dataset(people, FIXTURES / "mini", OPERATOR.email)
    with people.write() as session:
        link = links.mint(
            session,
            order_id="ORD-1002",
            role=LinkRole.CONTACT,
            email=KIM,  # even the e-mail of an account
            expires_at=NOW + timedelta(days=20),
            now=NOW,
        )
    assert links.resolve(people, link, "198.51.100.7", now=NOW).order_id == "ORD-1002"
    # A link's token, even correctly signed with the cookie's key, is no session ...
    assert sessions.from_cookie(people, sessions.sign(link, KEY), KEY, now=NOW) is None
    assert sessions.hand_off(people, link, KEY, now=NOW) is None
    # ... not even when stored under the session's prefix: the hash domains differ.
    disguised = sessions.TOKEN_PREFIX + link.removeprefix(links.TOKEN_PREFIX)
    assert sessions.from_cookie(people, sessions.sign(disguised, KEY), KEY, now=NOW) is None
    assert links.token_hash(link) != sessions.token_hash(link)
    # A link's actor never gets a session.
    link_actor = links.resolve(people, link, "198.51.100.7", now=NOW)
    with pytest.raises(InvalidInput):
        sessions.start(people, link_actor, hours=10, now=NOW)
    with pytest.raises(InvalidInput):
        sessions.start(people, Actor(KIM, LinkRole.CONTACT, order_id="ORD-1002"), hours=1)

    # The reverse: a session's token, its cookie or its nonce opens no order.
    actor = accounts.sign_in(people, KIM, PASSWORD, now=NOW)
    started = sessions.start(people, actor, hours=10, now=NOW)
    cookie = sessions.hand_off(people, started.handoff, KEY, now=NOW)
    assert cookie is not None
    token = cookie.rpartition(".")[0]
    disguised = links.TOKEN_PREFIX + token.removeprefix(sessions.TOKEN_PREFIX)
    for value in (token, cookie, started.handoff, disguised):
        with pytest.raises(LinkRefused):
            links.resolve(people, value, "198.51.100.8", now=NOW)


def test_the_signing_key_is_the_setting_or_made_once_and_kept(people: Database) -> None:
    assert sessions.signing_key(people, "from-the-setting") == b"from-the-setting"
    made = sessions.signing_key(people)
    assert len(made) == 64 and sessions.signing_key(people) == made
    other = Database(people.engine.url.render_as_string(hide_password=False))
    try:  # another app process on the same database uses the same key
        assert sessions.signing_key(other) == made
    finally:
        other.dispose()


def test_the_cli_lists_and_ends_sessions(people: Database) -> None:
    kim_tab, kim_cookie = _signed_in(people, at=utcnow())
    _other, kim_phone = _signed_in(people, at=utcnow())
    runner = CliRunner()

    def onboard(*args: str) -> Any:
        return runner.invoke(
            cli, ["--db", people.url, *args, "--actor", ADMIN.email], env={"ONBOARD_ACTOR": ""}
        )

    listed = onboard("users", "sessions", KIM, "--format", "json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert sorted(row["id"] for row in rows) == sorted([kim_tab, _other])
    assert {row["client"] for row in rows} == {"Chromium"}
    assert kim_cookie.rpartition(".")[0] not in listed.stdout
    ended = onboard("users", "end-sessions", str(kim_tab))
    assert ended.exit_code == 0 and f"ended session {kim_tab}" in ended.stdout
    assert sessions.from_cookie(people, kim_cookie, KEY) is None
    assert sessions.from_cookie(people, kim_phone, KEY) is not None
    everything = onboard("users", "end-sessions", KIM)
    assert everything.exit_code == 0 and "ended 1 session(s)" in everything.stdout
    assert sessions.from_cookie(people, kim_phone, KEY) is None
    assert json.loads(onboard("users", "sessions", "--format", "json").stdout) == []
    refused = runner.invoke(
        cli, ["--db", people.url, "users", "sessions", "--actor", KIM], env={"ONBOARD_ACTOR": ""}
    )
    assert refused.exit_code == 1 and "may not manage accounts" in refused.stderr
