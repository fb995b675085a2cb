"""Built-in accounts: add, list, disable; sign-in with argon2id hashes and a lock-out.

The database keeps the failed-attempt counter, so the limit holds across every app process
and every browser tab. A refused sign-in says the same thing whatever the cause (unknown
e-mail, wrong password, disabled, locked), and an unknown e-mail costs the same hashing time
as a known one, so guessing learns nothing about which accounts exist.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from provisioning import audit
from provisioning.access import sessions
from provisioning.access.actor import Actor
from provisioning.access.permissions import Permission, authorize
from provisioning.db import Database
from provisioning.errors import FieldError, InvalidInput, NotFound, SignInRefused
from provisioning.models import Account, Org
from provisioning.models.base import utcnow
from provisioning.orders.mapping import valid_email
from provisioning.states import Role

MAX_FAILED_SIGN_INS = 5
LOCK_OUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 12
BOOTSTRAP = "bootstrap"

# argon2id with the library's RFC 9106 "low memory" profile (64 MiB, 3 passes).
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
REFUSED = "wrong e-mail or password, or the account is disabled or locked for a while"


@dataclass(frozen=True, slots=True)
class AccountRow:
    email: str
    name: str
    role: str
    partner_id: str | None
    sign_in: str  # "password" (single sign-on works too, where set up) or "single sign-on"
    disabled: bool
    locked_until: datetime | None
    last_sign_in_at: datetime | None
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "name": self.name,
            "role": self.role,
            "partner_id": self.partner_id,
            "sign_in": self.sign_in,
            "disabled": self.disabled,
            "locked_until": _iso(self.locked_until),
            "last_sign_in_at": _iso(self.last_sign_in_at),
            "created_at": _iso(self.created_at),
        }


def new_password() -> str:
    """A random password for a new account, shown once to whoever created it."""
    return secrets.token_urlsafe(15)


def add_account(
    db: Database,
    actor: Actor | None,
    email: str,
    role: str,
    *,
    name: str | None = None,
    partner_id: str | None = None,
    password: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Create an account; False when an identical one exists already (a repeat).

    `actor` None is the bootstrap: allowed only while no enabled admin exists, so a fresh
    installation can create its first admin from the command line.
    `password` None makes a single sign-on account (it cannot sign in with a password).
    """
    with db.write() as session:
        return add_account_in(
            session,
            actor,
            email,
            role,
            name=name,
            partner_id=partner_id,
            password=password,
            now=now,
        )


def add_account_in(
    session: Session,
    actor: Actor | str | None,
    email: str,
    role: str,
    *,
    name: str | None = None,
    partner_id: str | None = None,
    password: str | None = None,
    now: datetime | None = None,
) -> bool:
    """`add_account` in the caller's transaction. A plain string `actor` is a deployment
    job (the demo) that adds its accounts with the data it generates, all or nothing;
    it is recorded with the role `system`."""
    now = now or utcnow()
    address = valid_email(email, "email")
    chosen = _role(role)
    errors = _account_errors(chosen, partner_id, password)
    if errors:
        raise InvalidInput(errors)
    creator = actor if isinstance(actor, str) else _creator(session, actor, chosen)
    if chosen is Role.PARTNER_ADMIN and session.get(Org, partner_id) is None:
        raise InvalidInput(FieldError("partner", "no such org", value=partner_id))
    existing = session.get(Account, address)
    if existing is not None:
        if (existing.role, existing.partner_id) == (chosen.value, partner_id):
            return False
        raise InvalidInput(FieldError("email", f"an account exists already, as {existing.role}"))
    account = Account(
        email=address,
        name=(name or "").strip() or address,
        role=chosen.value,
        partner_id=partner_id,
        password_hash=_hasher.hash(password) if password else None,
        failed_sign_ins=0,
        created_at=now,
        created_by=_who(creator),
    )
    session.add(account)
    _audit(session, creator, "account.add", address, None, _public(account), now)
    return True


def _who(creator: Actor | str | None) -> str:
    if isinstance(creator, Actor):
        return creator.email
    return creator or BOOTSTRAP


def has_admin(db: Database) -> bool:
    """Is there an enabled admin? Until there is, the first one may be added unsigned."""
    with db.read() as session:
        return _enabled_admin(session) is not None


def list_accounts(db: Database, actor: Actor) -> list[AccountRow]:
    authorize(actor, Permission.MANAGE_ACCOUNTS)
    with db.read() as session:
        rows = session.scalars(select(Account).order_by(Account.email)).all()
        return [_row(a) for a in rows]


def set_disabled(
    db: Database, actor: Actor, email: str, disabled: bool, now: datetime | None = None
) -> bool:
    """Disable (or enable again) an account; False when it already was. A disabled account
    cannot sign in, its sign-in sessions end, and its CLI/notebook use is refused; its
    audit history stays."""
    authorize(actor, Permission.MANAGE_ACCOUNTS)
    now, address = now or utcnow(), valid_email(email, "email")
    with db.write() as session:
        account = session.get(Account, address, with_for_update=True)
        if account is None:
            raise NotFound(f"no account {address!r}")
        if (account.disabled_at is not None) == disabled:
            return False
        if disabled and account.email == actor.email:
            raise InvalidInput(FieldError("email", "you cannot disable your own account"))
        before = _public(account)
        account.disabled_at = now if disabled else None
        account.failed_sign_ins, account.locked_until = 0, None
        if disabled:  # its open sessions end with it, in the same transaction
            sessions.end_account_sessions(session, address, "account disabled", now)
        action = "account.disable" if disabled else "account.enable"
        _audit(session, actor, action, address, before, _public(account), now)
    return True


def set_password(
    db: Database, actor: Actor, email: str, password: str, now: datetime | None = None
) -> None:
    """A new password (an admin's reset, or a person's own change); unlocks the account
    and ends its sign-in sessions."""
    address = valid_email(email, "email")
    if address != actor.email:
        authorize(actor, Permission.MANAGE_ACCOUNTS)
    if errors := _password_errors(password):
        raise InvalidInput(errors)
    now = now or utcnow()
    with db.write() as session:
        account = session.get(Account, address, with_for_update=True)
        if account is None:
            raise NotFound(f"no account {address!r}")
        account.password_hash = _hasher.hash(password)
        account.failed_sign_ins, account.locked_until = 0, None
        # Whoever held the old password is signed out everywhere, this person too.
        sessions.end_account_sessions(session, address, "new password", now)
        _audit(session, actor, "account.password", address, None, None, now)


def sign_in(db: Database, email: str, password: str, now: datetime | None = None) -> Actor:
    """The actor for a correct e-mail and password; `SignInRefused` otherwise.

    Each failure counts; the fifth in a row locks the account for 15 minutes (even the
    right password is refused meanwhile). Success resets the count.
    """
    now = now or utcnow()
    try:
        address = valid_email(email, "email")
    except InvalidInput:
        _verify(_DUMMY_HASH, password)
        raise SignInRefused(REFUSED) from None
    with db.read() as session:
        account = session.get(Account, address)
    usable = account is not None and account.disabled_at is None and account.password_hash
    locked = usable and account.locked_until is not None and account.locked_until > now
    correct = _verify(account.password_hash if usable else _DUMMY_HASH, password)
    if not usable:
        raise SignInRefused(REFUSED)
    if locked or not correct:
        _failed(db, address, now, locked)
        raise SignInRefused(REFUSED)
    with db.write() as session:
        session.execute(
            update(Account)
            .where(Account.email == address)
            .values(failed_sign_ins=0, locked_until=None, last_sign_in_at=now)
        )
        if _hasher.check_needs_rehash(account.password_hash):
            session.get(Account, address).password_hash = _hasher.hash(password)
    return _actor(account)


def actor_for(db: Database, email: str, field: str = "actor") -> Actor:
    """The actor of an enabled account, for callers that hold the database credentials
    (CLI, notebooks) or a verified identity (single sign-on). Refusal names `field`."""
    address = valid_email(email, field)
    with db.read() as session:
        account = session.get(Account, address)
    if account is None:
        raise InvalidInput(
            FieldError(field, "no account with this e-mail", value=address),
            summary="an admin adds it with `onboard users add`; nothing was changed",
        )
    if account.disabled_at is not None:
        raise InvalidInput(
            FieldError(
                field,
                f"this account was disabled on {account.disabled_at:%Y-%m-%d}",
                value=address,
            ),
            summary="an admin can enable it again with `onboard users enable`; nothing was changed",
        )
    return _actor(account)


def sso_actor(
    db: Database,
    email: str,
    claims: dict[str, Any],
    role_claim: str | None,
    roles_by_claim: dict[str, str],
) -> Actor:
    """The actor of a single sign-on identity: its account if it has one, else a role
    granted by the identity provider's claim (`role_claim`, mapped in the secrets).

    A partner admin needs an account: the partner binding is ours, not the provider's.
    """
    try:
        return actor_for(db, email, "email")
    except InvalidInput:
        pass
    values = claims.get(role_claim or "", [])
    for value in [values] if isinstance(values, str) else list(values):
        role = roles_by_claim.get(str(value))
        if role is None:
            continue
        if role not in {r.value for r in Role} or role == Role.PARTNER_ADMIN:
            raise SignInRefused(
                f"single sign-on maps {value!r} to {role!r}, which is not a role it may grant"
            )
        return Actor(valid_email(email, "email"), Role(role))
    raise SignInRefused(f"{email} has no account here and no role from single sign-on")


def _failed(db: Database, address: str, now: datetime, locked: bool) -> None:
    if locked:
        return  # a locked account's clock is not extended by more guesses
    with db.write() as session:
        account = session.get(Account, address, with_for_update=True)
        account.failed_sign_ins += 1
        if account.failed_sign_ins >= MAX_FAILED_SIGN_INS:
            account.failed_sign_ins, account.locked_until = 0, now + LOCK_OUT
            after = {"locked_until": account.locked_until.isoformat()}
            _audit(session, None, "account.locked", address, None, after, now)


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _creator(session: Session, actor: Actor | None, role: Role) -> Actor | None:
    if actor is not None:
        return authorize(actor, Permission.MANAGE_ACCOUNTS)
    if _enabled_admin(session) is not None:
        raise InvalidInput(
            FieldError("actor", "an admin exists: name an admin account with --actor")
        )
    if role is not Role.ADMIN:
        raise InvalidInput(FieldError("role", "the first account must be an admin"))
    return None


def _enabled_admin(session: Session) -> str | None:
    return session.scalar(
        select(Account.email).where(Account.role == Role.ADMIN, Account.disabled_at.is_(None))
    )


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise InvalidInput(FieldError("role", f"one of {choices}", value=value)) from None


def _account_errors(role: Role, partner_id: str | None, password: str | None) -> list[FieldError]:
    errors = _password_errors(password) if password is not None else []
    if role is Role.PARTNER_ADMIN and not partner_id:
        errors.append(FieldError("partner", "a partner admin needs the partner org it acts for"))
    if role is not Role.PARTNER_ADMIN and partner_id:
        errors.append(FieldError("partner", "only a partner admin is bound to a partner org"))
    return errors


def _password_errors(password: str) -> list[FieldError]:
    if len(password) < MIN_PASSWORD_LENGTH:
        return [FieldError("password", f"at least {MIN_PASSWORD_LENGTH} characters")]
    if len(password) > 1024:
        return [FieldError("password", "at most 1024 characters")]
    return []


def _actor(account: Account) -> Actor:
    return Actor(account.email, Role(account.role), account.partner_id)


def _row(account: Account) -> AccountRow:
    return AccountRow(
        email=account.email,
        name=account.name,
        role=account.role,
        partner_id=account.partner_id,
        sign_in="password" if account.password_hash else "single sign-on",
        disabled=account.disabled_at is not None,
        locked_until=account.locked_until,
        last_sign_in_at=account.last_sign_in_at,
        created_at=account.created_at,
    )


def _public(account: Account) -> dict[str, Any]:
    """What the audit trail keeps of an account: never the hash."""
    return {
        "role": account.role,
        "partner_id": account.partner_id,
        "disabled": account.disabled_at is not None,
    }


def _audit(
    session: Session,
    actor: Actor | str | None,
    action: str,
    email: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: datetime,
) -> None:
    """Account changes join the audit trail; nobody signed in: the bootstrap, a deployment
    job (a plain string) or the lock."""
    who: Actor | str = actor if actor else (BOOTSTRAP if action == "account.add" else email)
    session.add(audit.event(who, action, "account", email, before, after, now))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
