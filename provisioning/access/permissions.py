"""What each role may do, checked by the service layer on every call.

Hiding a button is a courtesy; these checks are the boundary. The CLI, the notebooks'
API and the app all reach the same service functions, so all three are held to this table.
"""

from __future__ import annotations

from enum import StrEnum

from provisioning.access.actor import Actor
from provisioning.errors import Forbidden
from provisioning.states import LinkRole, Role


class Permission(StrEnum):
    READ_ORDERS = "read orders"
    RESOLVE_ORDERS = "resolve orders"  # intent, map, create org, unmap
    ANSWER_APPROVAL = "record an org administrator's answer"  # approve / decline
    PROVISION = "provision services"  # Meetings sites, Calling locations, configure later
    BLIND_REVIEW = "make blind picks"  # support's own measurement, not a partner's
    RUN_FINDER = "score waiting orders"
    READ_BACKLOG = "read the backlog"
    READ_AUDIT = "read the audit trail"
    READ_MODELS = "read scorer models and their evaluation"
    PUBLISH_MODELS = "train, publish and activate scorer models"
    RETRY_EMAIL = "re-queue failed e-mail"
    MANAGE_ACCOUNTS = "manage accounts"


_OPERATIONS = {
    Permission.READ_ORDERS,
    Permission.RESOLVE_ORDERS,
    Permission.ANSWER_APPROVAL,  # an answer given by telephone, recorded by support
    Permission.PROVISION,
}
# What a person acting through an order link may do: on that one order only (the binding
# is `Actor.order_id`, enforced by `scope.limit_to` and `orders.unit.locked_order`).
_SETTING_UP_THEIR_ORDER = {Permission.READ_ORDERS, Permission.RESOLVE_ORDERS, Permission.PROVISION}

GRANTS: dict[Role | LinkRole, frozenset[Permission]] = {
    Role.OPERATOR: frozenset(
        _OPERATIONS
        | {
            Permission.BLIND_REVIEW,
            Permission.RUN_FINDER,
            Permission.READ_BACKLOG,
            Permission.READ_AUDIT,
            Permission.RETRY_EMAIL,
        }
    ),
    Role.MANAGER: frozenset(
        {
            Permission.READ_ORDERS,
            Permission.READ_BACKLOG,
            Permission.READ_AUDIT,
            Permission.READ_MODELS,
        }
    ),
    Role.ANALYST: frozenset(
        {
            Permission.READ_ORDERS,
            Permission.READ_BACKLOG,
            Permission.READ_MODELS,
            Permission.PUBLISH_MODELS,
            Permission.RUN_FINDER,
        }
    ),
    # Scoped to its partner's customers by `provisioning.access.scope` on top of this.
    Role.PARTNER_ADMIN: frozenset(_OPERATIONS),
    Role.ADMIN: frozenset(
        {Permission.MANAGE_ACCOUNTS, Permission.READ_AUDIT, Permission.RETRY_EMAIL}
    ),
    LinkRole.CONTACT: frozenset(_SETTING_UP_THEIR_ORDER),
    LinkRole.DELEGATE: frozenset(_SETTING_UP_THEIR_ORDER),
    # Reads the order it is asked about (to see what it approves), answers, nothing else.
    LinkRole.APPROVER: frozenset({Permission.READ_ORDERS, Permission.ANSWER_APPROVAL}),
}


def allows(actor: Actor, permission: Permission) -> bool:
    return permission in GRANTS[actor.role]


def authorize(actor: Actor, permission: Permission) -> Actor:
    """The actor, if its role grants `permission`; otherwise `Forbidden`, nothing done."""
    if not isinstance(actor, Actor):
        raise TypeError(f"an action needs the signed-in actor, got {actor!r}")
    if not allows(actor, permission):
        raise Forbidden(f"{actor.email} ({actor.role.value}) may not {permission.value}")
    return actor
