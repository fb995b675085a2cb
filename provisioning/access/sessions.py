"""Sign-in sessions: a signed-in person stays signed in across reloads and new tabs.

A password sign-in starts a server-side session (`SignInSession`) and hands the browser a
signed, HttpOnly cookie for it. The hand-off is two steps because the app's pages cannot
set a cookie: `start` gives the page a one-time nonce (valid for two minutes), the page's
browser posts it to the app's own web route, and `hand_off` swaps it for the session
token, returned only in the cookie. The database keeps SHA-256 hashes of both, never the
values, so neither a copy of the database nor a log line signs anybody in.

The session ends at `expires_at` (`ONBOARD_SESSION_HOURS` after the sign-in, however
busy), on sign-out, when the account is disabled or its password is reset, and when an
admin revokes it. Every look-up checks the account is still enabled.

Kept apart from order links on purpose: another table, another token prefix (`ss_`,
links use `ol_`) and another hash domain, so a link's token can never act as an operator
session, nor the reverse. The cookie is signed (HMAC-SHA256 with `ONBOARD_SESSION_SECRET`,
else a key generated once and kept in the database), so a forged or altered cookie is
refused before any look-up.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from provisioning import audit
from provisioning.access.actor import Actor
from provisioning.access.permissions import Permission, authorize
from provisioning.db import Database
from provisioning.errors import FieldError, InvalidInput, NotFound
from provisioning.models import Account, AppSecret, SignInSession
from provisioning.models.base import utcnow
from provisioning.orders.mapping import valid_email
from provisioning.states import Role

TOKEN_PREFIX = "ss_"  # sign-in session; order links use "ol_" and another table
HANDOFF_PREFIX = "sh_"  # the one-time nonce a page hands its browser
TOKEN_BYTES = 32
HANDOFF_TTL = timedelta(minutes=2)
SEEN_EVERY = timedelta(minutes=1)  # `last_seen_at` is written at most this often
COOKIE_NAME = "onboard_session"
SECRET_NAME = "sign-in-cookie"
MAX_COOKIE = 256  # longer than any cookie this module signs: refused unread


@dataclass(frozen=True, slots=True)
class Started:
    """A new session: its id (the tab keeps it) and the nonce its browser swaps for the
    cookie (shown to nobody, usable once, for two minutes)."""

    session_id: int
    handoff: str


@dataclass(frozen=True, slots=True)
class Current:
    """A live session and the person it signs in, as their account stands now."""

    session_id: int
    actor: Actor
    handed_off: bool  # the browser holds its cookie


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A live session as the admin's list shows it (never a token or a hash)."""

    id: int
    email: str
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime | None
    client: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "last_seen_at": self.last_seen_at.isoformat() if self.last_seen_at else None,
            "client": self.client,
        }


def token_hash(token: str) -> str:
    return hashlib.sha256(f"sign-in-session:{token}".encode()).hexdigest()


def handoff_hash(nonce: str) -> str:
    return hashlib.sha256(f"sign-in-handoff:{nonce}".encode()).hexdigest()


def signing_key(db: Database, configured: str = "") -> bytes:
    """The cookie's signing key: the setting when set (the same for every app process),
    else one generated on first use and kept in the database (a race creates it once)."""
    if configured:
        return configured.encode()
    with db.read() as session:
        value = session.scalar(select(AppSecret.value).where(AppSecret.name == SECRET_NAME))
    if value is None:
        try:
            with db.write() as session:
                session.add(AppSecret(name=SECRET_NAME, value=secrets.token_hex(32)))
        except IntegrityError:
            pass  # another process made it first: use theirs
        with db.read() as session:
            value = session.scalar(select(AppSecret.value).where(AppSecret.name == SECRET_NAME))
    return str(value).encode()


def sign(token: str, key: bytes) -> str:
    """The cookie's value: the token and its signature."""
    return f"{token}.{_signature(token, key)}"


def unsign(value: str, key: bytes) -> str | None:
    """The session token of a correctly signed cookie value; None for anything else."""
    if not isinstance(value, str) or len(value) > MAX_COOKIE or "." not in value:
        return None
    token, _dot, signature = value.rpartition(".")
    if not hmac.compare_digest(signature.encode(), _signature(token, key).encode()):
        return None
    return token if token.startswith(TOKEN_PREFIX) else None


def start(
    db: Database,
    actor: Actor,
    *,
    hours: int,
    client: str | None = None,
    now: datetime | None = None,
) -> Started:
    """A session for a person who just signed in with their password. Only an account's
    actor has one: a link's actor (bound to one order) never becomes a session."""
    if actor.through_link or not isinstance(actor.role, Role):
        raise InvalidInput(FieldError("actor", "only a signed-in account has a session"))
    now = now or utcnow()
    nonce = HANDOFF_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    with db.write() as session:
        row = SignInSession(
            token_hash=handoff_hash(nonce),
            account_email=actor.email,
            created_at=now,
            expires_at=now + timedelta(hours=max(1, hours)),
            client=(client or "")[:255] or None,
        )
        session.add(row)
        session.flush()
        return Started(row.id, nonce)


def hand_off(db: Database, nonce: str, key: bytes, now: datetime | None = None) -> str | None:
    """The signed cookie value for a session's nonce, once; None when the nonce is
    unknown, used, older than two minutes, or its session ended meanwhile."""
    if not isinstance(nonce, str) or not nonce.startswith(HANDOFF_PREFIX) or len(nonce) > 128:
        return None
    now = now or utcnow()
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    with db.write() as session:
        swapped = session.execute(
            update(SignInSession)
            .where(
                SignInSession.token_hash == handoff_hash(nonce),
                SignInSession.last_seen_at.is_(None),
                SignInSession.revoked_at.is_(None),
                SignInSession.created_at > now - HANDOFF_TTL,
                SignInSession.expires_at > now,
            )
            .values(token_hash=token_hash(token), last_seen_at=now),
            execution_options={"synchronize_session": False},
        )
        if swapped.rowcount != 1:
            return None
    return sign(token, key)


def from_cookie(
    db: Database, value: str, key: bytes, now: datetime | None = None
) -> Current | None:
    """The live session behind a cookie (a reload, a new tab), or None."""
    token = unsign(value, key)
    if token is None:
        return None
    return _live(db, SignInSession.token_hash == token_hash(token), now or utcnow())


def current(db: Database, session_id: int, now: datetime | None = None) -> Current | None:
    """The tab's session, checked again on every run: None once it ended, so a revoked
    session or a disabled account signs the open tab out at its next click."""
    return _live(db, SignInSession.id == session_id, now or utcnow())


def end(
    db: Database,
    *,
    session_id: int | None = None,
    cookie: str | None = None,
    key: bytes | None = None,
    reason: str = "signed out",
    now: datetime | None = None,
) -> bool:
    """Sign-out: end the tab's session (`session_id`) or the cookie's; True when one
    was live. A person ends only their own session, so this needs no permission."""
    now = now or utcnow()
    if session_id is not None:
        which = SignInSession.id == session_id
    else:
        token = unsign(cookie or "", key or b"")
        if token is None:
            return False
        which = SignInSession.token_hash == token_hash(token)
    with db.write() as session:
        return _revoke(session, which, reason, now) > 0


def end_account_sessions(session: Session, email: str, reason: str, now: datetime) -> int:
    """End every live session of an account, in the caller's transaction (disabling it,
    a new password). Returns how many."""
    return _revoke(session, SignInSession.account_email == email, reason, now)


def list_sessions(
    db: Database, actor: Actor, email: str | None = None, now: datetime | None = None
) -> list[SessionRow]:
    """The live sessions (of one account, or all), newest first: for an admin."""
    authorize(actor, Permission.MANAGE_ACCOUNTS)
    now = now or utcnow()
    stmt = select(SignInSession).where(
        SignInSession.revoked_at.is_(None), SignInSession.expires_at > now
    )
    if email:
        stmt = stmt.where(SignInSession.account_email == _email(email))
    with db.read() as session:
        rows = session.scalars(stmt.order_by(SignInSession.created_at.desc())).all()
        return [
            SessionRow(r.id, r.account_email, r.created_at, r.expires_at, r.last_seen_at, r.client)
            for r in rows
        ]


def revoke(
    db: Database,
    actor: Actor,
    *,
    email: str | None = None,
    session_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """An admin ends one session (`session_id`) or every session of an account (`email`);
    the person is signed out at their next click. Returns how many were live (0: a
    repeat, nothing changed, nothing audited)."""
    authorize(actor, Permission.MANAGE_ACCOUNTS)
    if (email is None) == (session_id is None):
        raise InvalidInput(FieldError("session", "name an account's e-mail or one session id"))
    now = now or utcnow()
    with db.write() as session:
        if session_id is not None:
            owner = session.scalar(
                select(SignInSession.account_email).where(SignInSession.id == session_id)
            )
            if owner is None:
                raise NotFound(f"no session {session_id}")
            which = SignInSession.id == session_id
        else:
            owner = _email(email or "")
            if session.get(Account, owner) is None:
                raise NotFound(f"no account {owner!r}")
            which = SignInSession.account_email == owner
        ended = _revoke(session, which, f"revoked by {actor.email}", now)
        if ended:
            after = {"ended": ended, **({"session": session_id} if session_id else {})}
            event = audit.event(actor, "account.end_sessions", "account", owner, None, after, now)
            session.add(event)
    return ended


def _live(db: Database, which: Any, now: datetime) -> Current | None:
    with db.read() as session:
        found = session.execute(
            select(SignInSession, Account)
            .join(Account, Account.email == SignInSession.account_email)
            .where(
                which,
                SignInSession.revoked_at.is_(None),
                SignInSession.expires_at > now,
                Account.disabled_at.is_(None),
            )
        ).first()
        if found is None:
            return None
        row, account = found
        actor = Actor(account.email, Role(account.role), account.partner_id)
        result = Current(row.id, actor, handed_off=row.last_seen_at is not None)
        stale = row.last_seen_at is not None and row.last_seen_at < now - SEEN_EVERY
    if stale:
        with db.write() as session:
            session.execute(
                update(SignInSession)
                .where(SignInSession.id == result.session_id)
                .values(last_seen_at=now),
                execution_options={"synchronize_session": False},
            )
    return result


def _revoke(session: Session, which: Any, reason: str, now: datetime) -> int:
    result = session.execute(
        update(SignInSession)
        .where(which, SignInSession.revoked_at.is_(None), SignInSession.expires_at > now)
        .values(revoked_at=now, revoked_reason=reason[:255]),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount or 0)


def _signature(token: str, key: bytes) -> str:
    digest = hmac.new(key, f"sign-in-cookie:{token}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _email(value: str) -> str:
    return valid_email(value, "email")
