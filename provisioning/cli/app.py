"""The `onboard` command group and what every command shares.

Commands are thin: parse options, build `Settings`, call one service function, render.
Service errors become exit codes: 2 for refused input (with every reason), 1 otherwise.

Every command pays for what its module imports, so a module is imported only when one of
its commands runs (`COMMANDS`): `onboard --help` lists them from their one-line help
without importing any, and `onboard orders show` never loads scikit-learn.
"""

from __future__ import annotations

import getpass
import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from provisioning import failures
from provisioning.errors import FieldError, InvalidInput, ProvisioningError

if TYPE_CHECKING:
    from provisioning.access import Actor
    from provisioning.db import Database
    from provisioning.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

# Each top-level command: the module of `provisioning.cli` that defines it, and its
# one-line help as `onboard --help` lists it (a test keeps both true to the command).
COMMANDS: dict[str, tuple[str, str]] = {
    "db": ("database", "Create and migrate the database schema."),
    "demo": ("demo", "Generate a realistic demo world into an empty database."),
    "evaluate": (
        "finder",
        "Score a model version on every decided order, beside the two hand rules, and show "
        "what the --auto/--review thresholds would do before they are saved.",
    ),
    "export": (
        "dataset",
        "Write the database into DIRECTORY as a dataset (the format `onboard import` reads).",
    ),
    "import": ("dataset", "Validate the dataset in DIRECTORY and load it, all or nothing."),
    "match": (
        "finder",
        "Rank the candidate orgs of orders awaiting an org (decided orders are not listed).",
    ),
    "models": ("finder", "Scorer versions: list them, choose the active one."),
    "orders": (
        "orders",
        "Orders: who they are for, their organization, and their services' setup.",
    ),
    "outbox": (
        "outbox",
        "Queued e-mails: send the due ones over SMTP, list them, retry failed or stuck ones.",
    ),
    "settings": ("database", "List every setting, its environment variable and default."),
    "train": ("finder", "Fit a scorer version on every decided order and store it."),
    "users": ("users", "Accounts that sign in to the app, and their roles."),
}


@dataclass
class CliContext:
    settings: Settings
    _db: Database | None = field(default=None, repr=False)

    @property
    def db(self) -> Database:
        """The database, migrated on first use: any command on an empty one creates it."""
        if self._db is None:
            from provisioning.db import Database

            self._db = Database(
                self.settings.database_url,
                setup_deadline_days=self.settings.setup_deadline_days,
            )
            self._db.ensure_schema()
        return self._db


pass_ctx = click.make_pass_decorator(CliContext)


class FilePath(click.Path):
    """`click.Path` for a file or folder argument. A name's bytes that are not UTF-8 are
    fine (they come back as the file system's own escapes); text the file system cannot
    encode at all (a lone surrogate from a broken terminal) is refused naming the option,
    before anything looks at the disk."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            try:
                os.fsencode(value)
            except UnicodeEncodeError:
                self.fail("not UTF-8 text: check the terminal's encoding", param, ctx)
        return super().convert(value, param, ctx)


def file_path(**options: Any) -> FilePath:
    return FilePath(path_type=Path, **options)


def format_option(*choices: str, default: str = "table") -> Callable[[F], F]:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=default,
        show_default=True,
        help="table for people; json / jsonl for scripts.",
    )


def actor_option(func: F) -> F:
    """`--actor EMAIL` on every mutating command (default `ONBOARD_ACTOR`)."""
    return click.option(
        "--actor",
        envvar="ONBOARD_ACTOR",
        default=None,
        help="Who is acting (e-mail); default from ONBOARD_ACTOR.",
    )(func)


def resolve_actor(ctx: CliContext, actor: str | None) -> Actor:
    """The account a CLI change is made as: `--actor`, else ONBOARD_ACTOR; its role decides
    what the command may do. Whoever runs the CLI holds the database credentials, so the
    account is looked up rather than signed in to; a disabled account is refused."""
    email = actor or ctx.settings.actor
    if not email:
        raise InvalidInput(
            FieldError("actor", "name the account you act as (--actor or ONBOARD_ACTOR)")
        )
    from provisioning.access import accounts

    return accounts.actor_for(ctx.db, email)


def job_runner(ctx: CliContext, actor: str | None) -> str:
    """Who ran a system job (import, demo): recorded with the role `system`, no account
    needed — these commands are for whoever holds the database credentials."""
    return actor or ctx.settings.actor or f"cli:{getpass.getuser()}"


def handle_errors(func: F) -> F:
    """Turn service errors into a message on stderr and the documented exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            if undecodable := _undecodable(kwargs):
                raise InvalidInput(undecodable)
            return func(*args, **kwargs)
        except InvalidInput as exc:
            report(exc)
            sys.exit(exc.exit_code)
        except ProvisioningError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


def report(exc: InvalidInput) -> None:
    """A refusal on stderr: the summary, then every reason on its own line."""
    click.echo(f"error: {exc.summary}", err=True)
    for error in exc.errors:
        click.echo(f"  {error}", err=True)


def _undecodable(values: dict[str, Any]) -> list[FieldError]:
    """The parameters whose text is not UTF-8: Python hands bytes a terminal in another
    encoding sent ("Sj\\xf6berg" from Latin-1) over as lone surrogates, which no database
    can store or even compare. Refused up front, naming the option as it was typed."""
    context = click.get_current_context(silent=True)
    params = {param.name: param for param in context.command.params} if context else {}
    errors = []
    for name, value in values.items():
        texts = value if isinstance(value, tuple) else (value,)
        if any(isinstance(text, str) and not _is_utf8(text) for text in texts):
            param = params.get(name)
            shown = param.opts[0] if isinstance(param, click.Option) else None
            field = shown or (param.human_readable_name if param else name)
            errors.append(FieldError(field, "not UTF-8 text: check the terminal's encoding"))
    return errors


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class OnboardGroup(click.Group):
    """The top-level group: a failure no command expected (an unreachable or damaged
    database, a full disk) becomes one line and an exit code, never a traceback; the
    detail goes to the debug log (`ONBOARD_LOG_LEVEL=debug`), without bound parameters.

    Its commands are loaded lazily (`COMMANDS`): asked for one, it imports the module that
    registers it; listing them reads their help from `COMMANDS`."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            importlib.import_module(f"provisioning.cli.{COMMANDS[cmd_name][0]}")
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of `onboard --help`, as click writes it, without importing."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            loaded = self.commands.get(name)
            if loaded is not None:
                rows.append((name, loaded.get_short_help_str(limit)))
            else:
                rows.append((name, click.utils.make_default_short_help(COMMANDS[name][1], limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            failures.log.debug("command failed", exc_info=True)
            line, code = failures.explain(exc)
            click.echo(f"error: {line}", err=True)
            ctx.exit(code)


@click.group(
    cls=OnboardGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--db",
    "database_url",
    metavar="URL",
    default=None,
    help="Database URL (default: ONBOARD_DATABASE_URL, else a SQLite file under data/).",
)
@click.version_option(package_name="onboarding-desk")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None) -> None:
    """Onboarding Desk: map Webex Suite orders to organizations and set up their services."""
    from provisioning.settings import Settings

    try:
        ctx.obj = CliContext(Settings.from_env(database_url=database_url))
    except InvalidInput as exc:
        report(exc)
        ctx.exit(exc.exit_code)
    ctx.call_on_close(lambda: ctx.obj._db.dispose() if ctx.obj._db else None)
