"""`onboard users add|list|disable|enable|reset-password|sessions|end-sessions`: the
built-in accounts, and who is signed in to the app.

An admin account acts (`--actor`); on a fresh installation with no enabled admin yet, the
first `users add … --role admin` needs none (the bootstrap). A new password is generated and shown
once, unless it is read from stdin (`--password-stdin`) or the account signs in through
single sign-on only (`--sso`).
"""

from __future__ import annotations

import sys

import click

from provisioning.access import accounts, sessions
from provisioning.cli.app import (
    CliContext,
    actor_option,
    cli,
    format_option,
    handle_errors,
    pass_ctx,
    resolve_actor,
)
from provisioning.cli.output import emit_object, emit_rows
from provisioning.errors import FieldError, InvalidInput
from provisioning.states import Role

_COLUMNS = ["email", "name", "role", "partner_id", "sign_in", "disabled", "last_sign_in_at"]
_SESSION_COLUMNS = ["id", "email", "created_at", "last_seen_at", "expires_at", "client"]


@cli.group()
def users() -> None:
    """Accounts that sign in to the app, and their roles."""


@users.command("add")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--name", default=None, help="Display name (default: the e-mail).")
@click.option("--partner", "partner_id", metavar="ORG", help="Partner org of a partner admin.")
@click.option("--sso", is_flag=True, help="Single sign-on only: no password.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@actor_option
@format_option("table", "json")
@pass_ctx
@handle_errors
def users_add(
    ctx: CliContext,
    email: str,
    role: str,
    name: str | None,
    partner_id: str | None,
    sso: bool,
    password_stdin: bool,
    actor: str | None,
    fmt: str,
) -> None:
    """Add an account; prints its generated password once."""
    if sso and password_stdin:
        raise InvalidInput(FieldError("password", "--sso accounts have no password"))
    password = None if sso else _password(password_stdin)
    acting = resolve_actor(ctx, actor) if accounts.has_admin(ctx.db) else None
    added = accounts.add_account(
        ctx.db, acting, email, role, name=name, partner_id=partner_id, password=password
    )
    shown = password if added and not password_stdin else None
    result = {"email": email, "role": role, "added": added, "password": shown}
    if fmt == "json":
        emit_object(result, fmt)
        return
    if not added:
        click.echo(f"{email} exists already as {role}; nothing changed")
        return
    click.echo(f"added {email} as {role}")
    if shown:
        click.echo(f"password (shown once): {shown}")


@users.command("list")
@actor_option
@format_option("table", "json", "jsonl")
@pass_ctx
@handle_errors
def users_list(ctx: CliContext, actor: str | None, fmt: str) -> None:
    """Every account, its role and whether it is disabled."""
    rows = accounts.list_accounts(ctx.db, resolve_actor(ctx, actor))
    emit_rows((row.to_dict() for row in rows), fmt, _COLUMNS)


@users.command("disable")
@click.argument("email")
@actor_option
@pass_ctx
@handle_errors
def users_disable(ctx: CliContext, email: str, actor: str | None) -> None:
    """Stop an account from signing in or acting; its history stays."""
    changed = accounts.set_disabled(ctx.db, resolve_actor(ctx, actor), email, True)
    click.echo(f"disabled {email}" if changed else f"{email} was already disabled")


@users.command("enable")
@click.argument("email")
@actor_option
@pass_ctx
@handle_errors
def users_enable(ctx: CliContext, email: str, actor: str | None) -> None:
    """Let a disabled account sign in again."""
    changed = accounts.set_disabled(ctx.db, resolve_actor(ctx, actor), email, False)
    click.echo(f"enabled {email}" if changed else f"{email} was not disabled")


@users.command("reset-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin.")
@actor_option
@pass_ctx
@handle_errors
def users_reset_password(
    ctx: CliContext, email: str, password_stdin: bool, actor: str | None
) -> None:
    """Give an account a new password (and lift a lock-out); prints it once if generated."""
    password = _password(password_stdin)
    accounts.set_password(ctx.db, resolve_actor(ctx, actor), email, password)
    click.echo(f"new password for {email} set")
    if not password_stdin:
        click.echo(f"password (shown once): {password}")


@users.command("sessions")
@click.argument("email", required=False)
@actor_option
@format_option("table", "json", "jsonl")
@pass_ctx
@handle_errors
def users_sessions(ctx: CliContext, email: str | None, actor: str | None, fmt: str) -> None:
    """The live sign-in sessions of the app (of one account), newest first."""
    rows = sessions.list_sessions(ctx.db, resolve_actor(ctx, actor), email)
    emit_rows((row.to_dict() for row in rows), fmt, _SESSION_COLUMNS)


@users.command("end-sessions")
@click.argument("target", metavar="EMAIL|SESSION_ID")
@actor_option
@pass_ctx
@handle_errors
def users_end_sessions(ctx: CliContext, target: str, actor: str | None) -> None:
    """End every sign-in session of an account, or one session by its id (from `users
    sessions`): the browser must sign in again at its next click. Audited."""
    acting = resolve_actor(ctx, actor)
    if target.strip().isdigit():
        ended = sessions.revoke(ctx.db, acting, session_id=int(target))
        click.echo(f"ended session {target.strip()}" if ended else f"session {target} had ended")
        return
    ended = sessions.revoke(ctx.db, acting, email=target)
    click.echo(f"ended {ended} session(s) of {target}")


def _password(from_stdin: bool) -> str:
    if not from_stdin:
        return accounts.new_password()
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise InvalidInput(FieldError("password", "nothing was read from stdin"))
    return password
