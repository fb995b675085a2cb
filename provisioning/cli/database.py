"""`onboard db …` and `onboard settings`: schema and configuration."""

from __future__ import annotations

import click

from provisioning.cli.app import CliContext, cli, format_option, pass_ctx
from provisioning.cli.output import emit_object, emit_rows
from provisioning.db import Database
from provisioning.settings import Settings


@cli.group("db")
def db_group() -> None:
    """Create and migrate the database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@pass_ctx
def db_upgrade(ctx: CliContext, revision: str) -> None:
    """Apply the migrations (creates every table on an empty database)."""
    db = Database(ctx.settings.database_url)
    try:
        db.upgrade(revision)
        click.echo(f"database at revision {db.current_revision()}")
    finally:
        db.dispose()


@db_group.command("current")
@format_option("table", "json")
@pass_ctx
def db_current(ctx: CliContext, fmt: str) -> None:
    """Show the database's revision and the newest one this version knows."""
    db = Database(ctx.settings.database_url)
    try:
        emit_object(
            {
                "url": db.engine.url.render_as_string(hide_password=True),
                "revision": db.current_revision(),
                "head": db.head_revision(),
            },
            fmt,
        )
    finally:
        db.dispose()


@cli.command("settings")
@format_option("table", "json")
def settings_command(fmt: str) -> None:
    """List every setting, its environment variable and default."""
    rows = [
        {"env": env, "default": default, "help": help}
        for env, help, default in Settings.documented()
    ]
    emit_rows(rows, fmt, ["env", "default", "help"])
