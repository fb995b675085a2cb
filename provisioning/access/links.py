"""Order links: the credential of the people who act from their own e-mail, no account.

A link gives one person one purpose on one order (`LinkRole`): the provisioning contact
sets the order up, the delegate does the same once the order is delegated to them, an
org administrator answers one approval request. The token is 256 random bits from
`secrets`; the database keeps only its SHA-256 (with a domain prefix no sign-in session
shares), so neither a copy of the database nor the audit trail can open an order.

Every refusal is the same `LinkRefused`, whatever the cause (unknown, tampered, expired,
revoked, too many tries): a page built on it never tells whether an order exists.
Failures are counted per client in the database, so guessing is slowed down across app
processes.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from provisioning.access.actor import Actor
from provisioning.db import Database
from provisioning.errors import ProvisioningError
from provisioning.models import LinkFailure, Order, OrderLink
from provisioning.models.base import utcnow
from provisioning.states import LinkRole, OrderState

TOKEN_PREFIX = "ol_"  # order link; sign-in sessions use another prefix and table
TOKEN_BYTES = 32
LINK_PATH = "link"  # the app page that opens a link: {public_url}/link?t=TOKEN
MAX_FAILURES = 10  # wrong links from one client within FAILURE_WINDOW ...
FAILURE_WINDOW = timedelta(minutes=15)  # ... before it is refused without a look-up
# An order in one of these states has nothing left for a link to do.
_CLOSED = frozenset({OrderState.COMPLETE, OrderState.EXPIRED, OrderState.HISTORY})


class LinkRefused(ProvisioningError):
    """The link cannot be used: one answer for every cause, on purpose."""

    def __init__(self, throttled: bool = False) -> None:
        super().__init__("this link is not valid any more")
        self.throttled = throttled


def token_hash(token: str) -> str:
    return hashlib.sha256(f"order-link:{token}".encode()).hexdigest()


def client_key(address: str | None) -> str:
    """The failure counter's key for a client address (kept as a hash, not the address)."""
    return hashlib.sha256(f"link-client:{address or 'unknown'}".encode()).hexdigest()


def mint(
    session: Session,
    *,
    order_id: str,
    role: LinkRole,
    email: str,
    expires_at: datetime,
    approval_id: int | None = None,
    outbox_id: int | None = None,
    now: datetime | None = None,
) -> str:
    """A new link token in the caller's transaction; only its hash is stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        OrderLink(
            token_hash=token_hash(token),
            order_id=order_id,
            role=role.value,
            email=email,
            approval_id=approval_id,
            outbox_id=outbox_id,
            created_at=now or utcnow(),
            expires_at=expires_at,
        )
    )
    return token


def url(public_url: str, token: str, **params: str) -> str:
    """The address a link opens: `{public_url}/link?t=TOKEN` (and e.g. `answer=approve`)."""
    query = urlencode({"t": token, **params})
    return f"{public_url.rstrip('/')}/{LINK_PATH}?{query}"


def revoke(
    session: Session,
    order_id: str,
    reason: str,
    now: datetime,
    roles: Iterable[LinkRole] | None = None,
    *,
    approval_id: int | None = None,
    keep_email: str | None = None,
) -> int:
    """Revoke the order's live links (of `roles`, all when None; of one approval request;
    except those of `keep_email`), in the caller's transaction. Returns how many."""
    stmt = update(OrderLink).where(OrderLink.order_id == order_id, OrderLink.revoked_at.is_(None))
    if roles is not None:
        stmt = stmt.where(OrderLink.role.in_([r.value for r in roles]))
    if approval_id is not None:
        stmt = stmt.where(OrderLink.approval_id == approval_id)
    if keep_email is not None:
        stmt = stmt.where(OrderLink.email != keep_email)
    result = session.execute(
        stmt.values(revoked_at=now, revoked_reason=reason[:255]),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount or 0)


def resolve(
    db: Database, token: str, client: str | None = None, now: datetime | None = None
) -> Actor:
    """The person a link stands for, bound to its order, or `LinkRefused`.

    A client with too many recent failures is refused before any look-up; each failure
    is counted. The first use of a link is recorded (`last_used_at`).
    """
    now, key = now or utcnow(), client_key(client)
    with db.write() as session:
        recent = session.scalar(
            select(func.count())
            .select_from(LinkFailure)
            .where(LinkFailure.client == key, LinkFailure.at > now - FAILURE_WINDOW)
        )
        if (recent or 0) >= MAX_FAILURES:
            raise LinkRefused(throttled=True)
        actor = _valid(session, token, now)
        if actor is None:
            session.add(LinkFailure(client=key, at=now))
            # Old failures are of no use to anyone; keep the table small as it goes.
            session.execute(delete(LinkFailure).where(LinkFailure.at <= now - FAILURE_WINDOW))
    if actor is None:
        raise LinkRefused()
    return actor


def still_valid(db: Database, actor: Actor, token: str, now: datetime | None = None) -> bool:
    """Is the link behind `actor` still usable (checked again on every page run, so a
    revoked link stops working at the person's next click)?"""
    with db.read() as session:
        current = _current(session, token, now or utcnow())
        return current is not None and current.order_id == actor.order_id


def _valid(session: Session, token: str, now: datetime) -> Actor | None:
    link = _current(session, token, now)
    if link is None:
        return None
    if link.last_used_at is None or link.last_used_at < now - timedelta(minutes=1):
        link.last_used_at = now
    return Actor(
        link.email,
        LinkRole(link.role),
        order_id=link.order_id,
        approval_id=link.approval_id,
    )


def _current(session: Session, token: str, now: datetime) -> OrderLink | None:
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    link = session.scalar(select(OrderLink).where(OrderLink.token_hash == token_hash(token)))
    if link is None or link.revoked_at is not None or link.expires_at <= now:
        return None
    state = session.scalar(select(Order.state).where(Order.order_id == link.order_id))
    if state is None or OrderState(state) in _CLOSED:
        return None
    return link
