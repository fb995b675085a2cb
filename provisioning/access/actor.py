"""Who is acting: the identity every service call is made for, and what binds it."""

from __future__ import annotations

from dataclasses import dataclass

from provisioning.states import Role


@dataclass(frozen=True, slots=True)
class Actor:
    """A signed-in person (or a CLI/notebook user resolved from an account).

    Built only by `accounts` (sign-in, single sign-on, account look-up), so the role and
    the partner binding come from the database, never from what a caller typed.
    """

    email: str
    role: Role
    partner_id: str | None = None  # the partner org a partner admin acts for

    def __str__(self) -> str:
        return f"{self.email} ({self.role.value})"
