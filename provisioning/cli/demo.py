"""`onboard demo`: a reproducible demo world in an empty database (and as a dataset)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import click

from provisioning.cli.app import (
    CliContext,
    actor_option,
    cli,
    file_path,
    format_option,
    handle_errors,
    job_runner,
    pass_ctx,
)
from provisioning.cli.output import emit_object, emit_rows
from provisioning.dataset import fields
from provisioning.demo.seed import create_demo, database_is_empty
from provisioning.demo.world import WorldParams
from provisioning.errors import FieldError, InvalidInput
from provisioning.finder.answers import refresh_matches


def _now(value: str | None) -> datetime:
    if value is None:
        return datetime.now().astimezone().replace(microsecond=0)
    try:
        return fields.timestamp(value)
    except ValueError as exc:
        raise InvalidInput(FieldError("--now", str(exc), value=value)) from None


@cli.command("demo")
@click.option(
    "--orgs",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="How many organizations the world has.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed, same world.")
@click.option(
    "--out",
    "out_dir",
    type=file_path(file_okay=False),
    help="Also keep the world as a dataset in this directory.",
)
@click.option("--if-empty", is_flag=True, help="Do nothing (exit 0) if the database has data.")
@click.option("--now", "now_text", metavar="ISO", help="The world's present (default: now).")
@click.option(
    "--score/--no-score",
    default=True,
    show_default=True,
    help="Rank the waiting orders for the operators' queue right away.",
)
@actor_option
@format_option("table", "json")
@pass_ctx
@handle_errors
def demo_command(
    ctx: CliContext,
    orgs: int,
    seed: int,
    out_dir: Path | None,
    if_empty: bool,
    now_text: str | None,
    score: bool,
    actor: str | None,
    fmt: str,
) -> None:
    """Generate a realistic demo world into an empty database.

    Companies and their orgs, trials, departments, subsidiaries, partners, personal
    free-mail orgs, and orders of every case in every workflow state. Refused (exit 1) on a
    database that already holds orgs, unless --if-empty makes that a quiet no-op.
    """
    if if_empty and not database_is_empty(ctx.db):
        click.echo("the database already holds data; no demo generated")
        return
    try:
        params = WorldParams(orgs=orgs, seed=seed, now=_now(now_text))
    except ValueError as exc:
        raise InvalidInput(FieldError("demo", str(exc))) from None
    report = create_demo(ctx.db, params, job_runner(ctx, actor), out_dir, with_accounts=True)
    people = [asdict(a) for a in report.accounts]
    scored = refresh_matches(ctx.db, params.now) if score else 0
    files = [{"file": f.file, "rows": f.rows} for f in report.imported.files]
    if fmt == "json":
        emit_object(
            {
                "files": files,
                "orders_by_state": report.orders_by_state,
                "scored": scored,
                "accounts": people,
            },
            fmt,
        )
        return
    emit_rows(files, fmt, ["file", "rows"])
    states = [{"state": s, "orders": n} for s, n in report.orders_by_state.items()]
    click.echo()
    emit_rows(states, fmt, ["state", "orders"])
    if score:
        click.echo(f"\n{scored} waiting order(s) ranked for the queue")
    click.echo("\nSign in to the app with one of these accounts (passwords shown only now):")
    emit_rows(people, fmt, ["email", "role", "partner_id", "password"])
