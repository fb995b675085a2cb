"""Taking a due message for sending: the claim (pending → sending) that makes this sender
its only owner, then its order link minted, in memory only (`Claimed.token`); a claim
given back when the database failed before anything reached the server, and a link
revoked when the server did not take the message.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from provisioning.access import links
from provisioning.db import Database
from provisioning.models import Order, OrderLink, OrgApproval, OutboxEmail
from provisioning.models.base import utcnow
from provisioning.outbox.queueing import IN_FLIGHT_NOTE, LINK_ACTIONS
from provisioning.outbox.report import Result
from provisioning.outbox.unwritten import Backlog, Unwritten
from provisioning.settings import Settings
from provisioning.states import ApprovalStatus, LinkRole, OrderState, OutboxStatus


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    dedupe_key: str
    recipient: str
    subject: str
    body: str
    attempts: int
    order_id: str | None = None
    html: str | None = None
    lang: str | None = None
    link_role: str | None = None
    approval_id: int | None = None
    claimed_at: datetime | None = None  # this sender's claim, once it holds one
    # The link minted for this send: in memory only, never written anywhere.
    token: str | None = field(default=None, repr=False)
    urls: dict[str, str] = field(default_factory=dict, repr=False)


def due(now: datetime) -> list[ColumnElement[bool]]:
    return [
        OutboxEmail.status == OutboxStatus.PENDING.value,
        OutboxEmail.next_attempt_at <= now,
    ]


_COLUMNS = (
    OutboxEmail.id,
    OutboxEmail.dedupe_key,
    OutboxEmail.recipient,
    OutboxEmail.subject,
    OutboxEmail.body,
    OutboxEmail.attempts,
    OutboxEmail.order_id,
    OutboxEmail.html,
    OutboxEmail.lang,
    OutboxEmail.link_role,
    OutboxEmail.approval_id,
)


def claim_next(
    db: Database, settings: Settings, now: datetime, exclude: list[int], backlog: Backlog
) -> tuple[Claimed | None, Result | None]:
    """Take the oldest due message not yet handled in this run: (message, None) when this
    sender owns it now, (message, SKIPPED) when another claimed it first, (message,
    CANCELLED) when it turned out obsolete.

    `SKIP LOCKED` lets two PostgreSQL senders pass each other instead of queueing on one
    row (SQLite ignores it: `BEGIN IMMEDIATE` already serialises the writers); the
    conditional UPDATE is what guarantees a single owner on every database. A message with
    a link gets it minted next, in its own transaction (`_mint`), so a link exists only
    for a message a sender owns.

    Should the database fail once the claim may have been written (its commit, or the
    minting), the claim is given back by the next run (`_give_back`, only if it is still
    this claim), since nothing was handed to the server.
    """
    claimed: Claimed | None = None
    try:
        with db.write() as session:
            row = session.execute(
                select(*_COLUMNS)
                .where(*due(now), OutboxEmail.id.not_in(exclude))
                .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return None, None
            unclaimed = Claimed(*row)
            claim = session.execute(
                update(OutboxEmail)
                .where(OutboxEmail.id == row.id, OutboxEmail.status == OutboxStatus.PENDING.value)
                .values(status=OutboxStatus.SENDING.value, claimed_at=now)
                .execution_options(synchronize_session=False)
            )
            if claim.rowcount != 1:
                return unclaimed, Result.SKIPPED
            claimed = replace(unclaimed, claimed_at=now)
        if claimed.link_role is None:
            return claimed, None
        with db.write() as session:
            minted = _mint(session, settings, claimed, now)
            if isinstance(minted, str):
                session.execute(
                    update(OutboxEmail)
                    .where(OutboxEmail.id == claimed.id)
                    .values(status=OutboxStatus.CANCELLED.value, cancelled_reason=minted[:255])
                    .execution_options(synchronize_session=False)
                )
                return claimed, Result.CANCELLED
            claimed = minted
        return claimed, None
    except SQLAlchemyError:
        if claimed is not None:
            held = claimed
            backlog.steps.append(Unwritten(held.id, False, lambda: _give_back(db, held)))
        raise


def _give_back(db: Database, claimed: Claimed) -> None:
    """Undo a claim whose message never reached the server (the database failed right
    after it): due again, attempts untouched, its link (if one was minted) revoked. Only
    while it is still this claim: another sender may own it since."""
    with db.write() as session:
        given = session.execute(
            update(OutboxEmail)
            .where(
                OutboxEmail.id == claimed.id,
                OutboxEmail.status == OutboxStatus.SENDING.value,
                OutboxEmail.claimed_at == claimed.claimed_at,
            )
            .values(status=OutboxStatus.PENDING.value)
            .execution_options(synchronize_session=False)
        )
        if given.rowcount:
            not_delivered(session, claimed, claimed.claimed_at or utcnow())


def _mint(session: Session, settings: Settings, claimed: Claimed, now: datetime) -> Claimed | str:
    """The claimed message with its link minted (valid until the order's deadline), or
    why it must not be sent after all: a last check that the link's person still holds
    that role on an open order, whatever path changed it (an import can change an
    order's provisioning e-mail).

    The order's row lock comes first, as in every workflow action (which locks the order,
    then cancels its e-mails, then revokes its links): a change that made the message
    obsolete since the claim has committed by then and left its reason on the row, and
    one that comes later finds the new link and revokes it. Taking the locks in the other
    order (the outbox row held while waiting for the order) deadlocks on PostgreSQL.
    """
    # Imported here: the deadline policy lives with the workflow, which imports the outbox.
    from provisioning.orders.deadlines import DeadlinePolicy

    role = LinkRole(claimed.link_role)
    order = session.get(Order, claimed.order_id, with_for_update=True) if claimed.order_id else None
    if order is None:
        return "not sent: its order no longer exists"
    obsolete = session.scalar(
        select(OutboxEmail.cancelled_reason).where(OutboxEmail.id == claimed.id)
    )
    if obsolete is not None:  # cancelled while it was being claimed: it was stopped after all
        return obsolete.removesuffix(IN_FLIGHT_NOTE)
    if OrderState(order.state) in (OrderState.COMPLETE, OrderState.EXPIRED, OrderState.HISTORY):
        return f"not sent: the order is {order.state.replace('_', ' ')}"
    holder = {
        LinkRole.CONTACT: order.provisioning_email,
        LinkRole.DELEGATE: order.delegate_email,
    }.get(role, claimed.recipient)
    if holder != claimed.recipient:
        return f"not sent: the order's {role.value} is no longer {claimed.recipient}"
    if role is LinkRole.APPROVER:
        approval = session.get(OrgApproval, claimed.approval_id) if claimed.approval_id else None
        if approval is None or approval.status != ApprovalStatus.PENDING.value:
            return "not sent: the approval request was answered or withdrawn"
    expires = DeadlinePolicy.from_settings(settings).deadline(order.placed_at)
    if expires <= now:
        return "not sent: the order's deadline has passed"
    token = links.mint(
        session,
        order_id=order.order_id,
        role=role,
        email=claimed.recipient,
        expires_at=expires,
        approval_id=claimed.approval_id if role is LinkRole.APPROVER else None,
        outbox_id=claimed.id,
        now=now,
    )
    actions = ("approve", "decline") if role is LinkRole.APPROVER else ("open",)
    urls = {a: links.url(settings.public_url, token, **LINK_ACTIONS[a]) for a in actions}
    return replace(claimed, token=token, urls=urls)


def not_delivered(session: Session, claimed: Claimed, now: datetime) -> None:
    """The link minted for a send the server did not take is revoked at once: nobody
    received it, and the next attempt mints its own."""
    if claimed.token is None:
        return
    session.execute(
        update(OrderLink)
        .where(
            OrderLink.token_hash == links.token_hash(claimed.token),
            OrderLink.revoked_at.is_(None),
        )
        .values(revoked_at=now, revoked_reason="not delivered")
        .execution_options(synchronize_session=False)
    )
