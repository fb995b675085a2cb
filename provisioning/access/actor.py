"""Who is acting: the identity every service call is made for, and what binds it."""

from __future__ import annotations

from dataclasses import dataclass

from provisioning.states import LinkRole, Role


@dataclass(frozen=True, slots=True)
class Actor:
    """A signed-in person (or a CLI/notebook user resolved from an account), or a person
    acting through an order link from their own e-mail.

    Built only by `accounts` (sign-in, single sign-on, account look-up) and `links`
    (a valid order link), so the role and the bindings come from the database, never
    from what a caller typed. A link actor is bound to one order (`order_id`), and an
    approver to one approval request (`approval_id`).
    """

    email: str
    role: Role | LinkRole
    partner_id: str | None = None  # the partner org a partner admin acts for
    order_id: str | None = None  # the one order a link actor may see and act on
    approval_id: int | None = None  # the one approval request an approver may answer

    def __str__(self) -> str:
        return f"{self.email} ({self.role.value})"

    @property
    def through_link(self) -> bool:
        """Acting from an e-mail link rather than a signed-in account."""
        return isinstance(self.role, LinkRole)
