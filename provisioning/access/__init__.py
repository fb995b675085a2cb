"""Who may do what: accounts and sign-in, roles and their permissions, partner scoping."""

from provisioning.access.actor import Actor
from provisioning.access.permissions import GRANTS, Permission, allows, authorize
from provisioning.access.scope import limit_to, reading, visible_org_ids
from provisioning.states import Role

__all__ = [
    "GRANTS",
    "Actor",
    "Permission",
    "Role",
    "allows",
    "authorize",
    "limit_to",
    "reading",
    "visible_org_ids",
]
