"""`onboard import DIR` and `onboard export DIR`: the dataset interchange format."""

from __future__ import annotations

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
from provisioning.dataset import export_dataset, import_dataset

_DIRECTORY = file_path(file_okay=False)


@cli.command("import")
@click.argument("directory", type=_DIRECTORY)
@actor_option
@format_option("table", "json")
@pass_ctx
@handle_errors
def import_command(ctx: CliContext, directory: Path, actor: str | None, fmt: str) -> None:
    """Validate the dataset in DIRECTORY and load it, all or nothing.

    Every error of every file is reported at once (file:line: column: reason) and nothing
    is written if there is any (exit 2). Importing the same dataset again changes nothing.
    """
    report = import_dataset(ctx.db, directory, job_runner(ctx, actor))
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    files = [{"file": f.file, "rows": f.rows, "changed": f.changed} for f in report.files]
    if fmt == "json":
        emit_object(
            {
                "directory": report.directory,
                "files": files,
                "rows": report.rows,
                "changed": report.changed,
                "seconds": round(report.seconds, 3),
                "warnings": report.warnings,
            },
            fmt,
        )
        return
    emit_rows(files, fmt, ["file", "rows", "changed"])
    click.echo(
        f"{report.rows} rows read, {report.changed} changed in {report.seconds:.2f} s "
        f"({report.rows_per_second:,.0f} rows/s)"
    )


@cli.command("export")
@click.argument("directory", type=_DIRECTORY)
@format_option("table", "json")
@pass_ctx
@handle_errors
def export_command(ctx: CliContext, directory: Path, fmt: str) -> None:
    """Write the database into DIRECTORY as a dataset (the format `onboard import` reads)."""
    counts = export_dataset(ctx.db, directory)
    emit_rows(
        [{"file": name, "rows": rows} for name, rows in counts.items()], fmt, ["file", "rows"]
    )
