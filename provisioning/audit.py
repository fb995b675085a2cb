"""The audit trail as people read it: who did what, when, to which record — filtered,
newest first, a page at a time.

Every change in the product appends an `AuditEvent` in its own transaction (orders,
model versions, the outbox, dataset imports). This module only reads them: the Audit page
and the CSV export ask the same question through `AuditFilter`, so what a person sees
and what they download never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from provisioning import i18n
from provisioning.access import Actor, Permission, reading
from provisioning.db import Database
from provisioning.errors import FieldError, InvalidInput
from provisioning.i18n import AUDIT_ACTIONS, N_
from provisioning.models import AuditEvent
from provisioning.models.base import utcnow

PAGE_SIZE = 50
EXPORT_LIMIT = 50_000  # rows in one CSV download: a year of a busy desk, still one file

# Verbs recorded outside the order workflow (`AUDIT_ACTIONS` holds exactly the order
# workflow's verbs, and a test keeps it so); people read these as past events too.
OTHER_ACTIONS: Mapping[str, str] = {
    "model.train": N_("Trained a model version"),
    "model.activate": N_("Activated a model version"),
    "outbox.retry": N_("Retried a failed e-mail"),
    "outbox.requeue": N_("Put a stuck e-mail back in the queue"),
    "dataset.import": N_("Imported a dataset"),
    "demo.generate": N_("Generated the demo world"),
    "model.publish": N_("Published a model version"),
    "model.rollback": N_("Rolled back to an earlier model version"),
    "account.add": N_("Added an account"),
    "account.disable": N_("Disabled an account"),
    "account.enable": N_("Enabled an account again"),
    "account.password": N_("Set a new password"),
    "account.locked": N_("Locked an account after failed sign-ins"),
    "finder.scored": N_("Scored waiting orders with the organization finder"),
    "account.end_sessions": N_("Ended an account's sign-in sessions"),
}
SYSTEM = "system"  # the audit role of jobs nobody signed in for (sweeps, imports, demo)
ACTIONS: Mapping[str, str] = {**AUDIT_ACTIONS, **OTHER_ACTIONS}

# What kind of record an event is about.
ENTITY_TYPES: Mapping[str, str] = {
    "order": N_("Order"),
    "model_version": N_("Model version"),
    "outbox_email": N_("Outgoing e-mail"),
    "dataset": N_("Dataset"),
    "account": N_("Account"),
}
# The role a change was made with, as the trail shows it.
ROLES: Mapping[str, str] = {**i18n.ROLES, **i18n.LINK_ROLES, SYSTEM: N_("System")}


def event(
    actor: Actor | str,
    action: str,
    entity_type: str,
    entity_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """An audit event recording the role the change was made with; a plain string is a
    system job (sweep, import, demo) and is recorded with the role `system`."""
    email, role = (actor.email, actor.role.value) if isinstance(actor, Actor) else (actor, SYSTEM)
    return AuditEvent(
        at=at or utcnow(),
        actor=email,
        role=role,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before,
        after=after,
    )


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Narrows the trail; every field left empty means "any".

    `entity` is a search, not an exact id: a person pastes part of an order id (or an
    org, a model version) and sees every event about matching records. Dates are whole
    UTC days and both ends are included, as a person reading "from 1 to 3 March" means.
    """

    actor: str | None = None
    action: str | None = None
    entity_type: str | None = None
    entity: str | None = None
    since: date | None = None
    until: date | None = None

    def validate(self) -> AuditFilter:
        if self.since and self.until and self.since > self.until:
            raise InvalidInput(
                FieldError("until", "the end date is before the start date", value=str(self.until))
            )
        return self

    def apply(self, stmt: Select[Any]) -> Select[Any]:
        if self.actor:
            stmt = stmt.where(AuditEvent.actor == self.actor)
        if self.action:
            stmt = stmt.where(AuditEvent.action == self.action)
        if self.entity_type:
            stmt = stmt.where(AuditEvent.entity_type == self.entity_type)
        if self.entity and self.entity.strip():
            needle = self.entity.strip().lower()
            stmt = stmt.where(func.lower(AuditEvent.entity_id).contains(needle, autoescape=True))
        if self.since:
            stmt = stmt.where(AuditEvent.at >= _start_of(self.since))
        if self.until:
            stmt = stmt.where(AuditEvent.at < _start_of(self.until + timedelta(days=1)))
        return stmt


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Change:
    """One field an event changed (or set, or cleared)."""

    field: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    role: str | None
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @property
    def changes(self) -> list[Change]:
        return changes(self.before, self.after)


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[AuditEntry]
    total: int  # events matching the filter, on every page
    page: int  # 1-based; clamped to the last page
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


@dataclass(frozen=True, slots=True)
class AuditChoices:
    """The values the filters can take, from the trail itself (so no choice is empty)."""

    actors: list[str]
    actions: list[str]
    entity_types: list[str]


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[Change]:
    """The fields whose value differs between before and after, in the order the event
    wrote them: a reader wants "state: awaiting_org → org_mapped", not two full records.
    A field present on one side only was set (or cleared)."""
    before, after = before or {}, after or {}
    fields = list(before) + [key for key in after if key not in before]
    return [
        Change(key, before.get(key), after.get(key))
        for key in fields
        if before.get(key) != after.get(key)
    ]


def compact(value: Any) -> str:
    """A stored value in one short line (JSON for nested values, "—" for none)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def list_events(
    db: Database,
    where: AuditFilter = AuditFilter(),
    page: int = 1,
    page_size: int = PAGE_SIZE,
    *,
    viewer: Actor,
) -> AuditPage:
    """One page of the events matching `where`, newest first (ties: latest written first).

    A page past the end shows the last page: filters narrowed while a person was on page
    9 must not leave them looking at nothing.
    """
    where.validate()
    if page_size < 1:
        raise InvalidInput(FieldError("page_size", "must be at least 1", value=str(page_size)))
    with reading(db, viewer, Permission.READ_AUDIT) as session:
        total = session.scalar(where.apply(select(func.count()).select_from(AuditEvent))) or 0
        pages = max(1, -(-total // page_size))
        page = min(max(page, 1), pages)
        entries = _entries(session, where, offset=(page - 1) * page_size, limit=page_size)
    return AuditPage(entries, total, page, page_size)


def export_events(
    db: Database, where: AuditFilter = AuditFilter(), limit: int = EXPORT_LIMIT, *, viewer: Actor
) -> list[AuditEntry]:
    """Every event matching `where` (up to `limit`), newest first, for a download."""
    where.validate()
    with reading(db, viewer, Permission.READ_AUDIT) as session:
        return _entries(session, where, offset=0, limit=limit)


def _entries(session: Session, where: AuditFilter, offset: int, limit: int) -> list[AuditEntry]:
    stmt = where.apply(
        select(
            AuditEvent.id,
            AuditEvent.at,
            AuditEvent.actor,
            AuditEvent.role,
            AuditEvent.action,
            AuditEvent.entity_type,
            AuditEvent.entity_id,
            AuditEvent.before,
            AuditEvent.after,
        )
    )
    stmt = stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).offset(offset).limit(limit)
    return [AuditEntry(**row._mapping) for row in session.execute(stmt)]


def choices(db: Database, viewer: Actor) -> AuditChoices:
    """Distinct actors, actions and record types in the trail (indexed look-ups)."""
    with reading(db, viewer, Permission.READ_AUDIT) as session:

        def distinct_values(column: Any) -> list[str]:
            return list(session.scalars(select(column).distinct().order_by(column)))

        return AuditChoices(
            actors=distinct_values(AuditEvent.actor),
            actions=distinct_values(AuditEvent.action),
            entity_types=distinct_values(AuditEvent.entity_type),
        )
