"""Every command, with each bad global option, setting and path, gets one clear line and
the documented exit code: never a traceback, never a silently created database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from provisioning.cli import cli
from tests.conftest import FIXTURES

# One invocation per command, with arguments it accepts; `--actor` where it changes things.
ACT = ["--actor", "operator@example.com"]
COMMANDS: dict[str, list[str]] = {
    "db current": [],
    "db upgrade": [],
    "demo": ["--orgs", "20", "--no-score"],
    "evaluate": [],
    "export": ["{tmp}/export"],
    "import": [str(FIXTURES / "mini")],
    "match": ["--all"],
    "models activate": ["1", *ACT],
    "models build-default": ["--help"],  # retrains the shipped model: never for real here
    "models list": [],
    "orders approve": ["ORD-1001", *ACT],
    "orders calling": ["ORD-1001", "--location", "HQ", "--country", "SE", *ACT],
    "orders check-site": ["acme"],
    "orders create-org": [
        "ORD-1001",
        "--name",
        "Acme",
        "--industry",
        "Retail",
        "--country",
        "SE",
        *ACT,
    ],
    "orders deadlines": [],
    "orders decline": ["ORD-1001", *ACT],
    "orders intent": ["ORD-1001", "own-company", *ACT],
    "orders later": ["ORD-1001", "meetings", *ACT],
    "orders list": [],
    "orders map": ["ORD-1001", "--org", "org-acme", *ACT],
    "orders meetings": ["ORD-1001", "--site", "acme:10", "--timezone", "Europe/Stockholm", *ACT],
    "orders resend-welcome": ["ORD-1001", *ACT],
    "orders self-setup": ["ORD-1001", "--admin-email", "it@acme.se", *ACT],
    "orders set-email": ["ORD-1001", "--email", "new@acme.se", *ACT],
    "orders show": ["ORD-1001"],
    "orders summary": ["ORD-1001", "--pdf", "{tmp}/summary.pdf"],
    "orders unmap": ["ORD-1001", "--reason", "wrong org", *ACT],
    "outbox list": [],
    "outbox retry": ["1", *ACT],
    "outbox send": [],
    "settings": [],
    "train": ACT,
    "users add": ["someone@example.com", "--role", "operator", *ACT],
    "users disable": ["someone@example.com", *ACT],
    "users enable": ["someone@example.com", *ACT],
    "users list": [],
    "users reset-password": ["someone@example.com", *ACT],
    "users sessions": [*ACT],
    "users end-sessions": ["someone@example.com", *ACT],
}

BAD_SETTINGS = [
    ({"ONBOARD_SMTP_PORT": "abc"}, "ONBOARD_SMTP_PORT: must be a whole number"),
    ({"ONBOARD_SMTP_TLS": "sometimes"}, "ONBOARD_SMTP_TLS: must be one of none, starttls, ssl"),
    ({"ONBOARD_PUBLIC_URL": "desk.example.com"}, "ONBOARD_PUBLIC_URL: must be an http"),
    ({"ONBOARD_EMAIL_LANGUAGE": "de"}, "ONBOARD_EMAIL_LANGUAGE: must be one of en, sv"),
    ({"ONBOARD_REMINDER_DAYS": "7,soon"}, "ONBOARD_REMINDER_DAYS: must be whole numbers"),
    ({"ONBOARD_SESSION_HOURS": "0"}, "ONBOARD_SESSION_HOURS: must be at least 1"),
    ({"ONBOARD_DATABASE_URL": "foo://bar"}, "ONBOARD_DATABASE_URL: 'foo' databases"),
]


def _leaf_commands(group: click.Group, path: tuple[str, ...] = ()) -> set[str]:
    found: set[str] = set()
    ctx = click.Context(group)  # through click's interface: the commands load lazily
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            found |= _leaf_commands(command, (*path, name))
        else:
            found.add(" ".join((*path, name)))
    return found


def _invoke(args: list[str], tmp_path: Path, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    return runner.invoke(cli, argv, env=env, catch_exceptions=False)


def test_the_table_names_every_command() -> None:
    assert set(COMMANDS) == _leaf_commands(cli)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_refuses_bad_settings_together_and_writes_nothing(
    command: str, tmp_path: Path
) -> None:
    target = tmp_path / "data" / "x.sqlite"
    target.parent.mkdir()
    env = {"ONBOARD_DATABASE_URL": f"sqlite:///{target}"}
    for bad, _expected in BAD_SETTINGS[:-1]:
        env.update(bad)
    result = _invoke([*command.split(), *COMMANDS[command]], tmp_path, env)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for _bad, expected in BAD_SETTINGS[:-1]:  # every bad value named at once
        assert expected in result.output
    assert not target.exists()


@pytest.mark.parametrize(("bad", "expected"), BAD_SETTINGS)
def test_each_bad_setting_is_named_with_its_reason(
    bad: dict[str, str], expected: str, tmp_path: Path
) -> None:
    result = _invoke(["orders", "list"], tmp_path, {"ONBOARD_DATABASE_URL": "", **bad})
    assert result.exit_code == 2
    assert expected in result.output and "nothing was done" in result.output
    assert len(result.output.strip().splitlines()) == 2  # the summary, one reason


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("foo://bar", "--db: 'foo' databases are not supported"),
        ("not a url", "--db: is not a database URL"),
        ("sqlite:////nonexistent/dir/x.sqlite", "--db: the folder /nonexistent/dir does not exist"),
    ],
)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_refuses_a_bad_db_option_without_creating_anything(
    command: str, url: str, expected: str, tmp_path: Path
) -> None:
    result = _invoke(["--db", url, *command.split(), *COMMANDS[command]], tmp_path)
    assert result.exit_code == 2, result.output
    assert expected in result.output and "Traceback" not in result.output
    assert not Path("/nonexistent").exists()


@pytest.mark.postgres
@pytest.mark.parametrize("command", sorted(set(COMMANDS) - {"settings", "models build-default"}))
def test_every_command_says_in_one_line_that_the_database_is_unreachable(
    command: str, tmp_path: Path
) -> None:
    result = _invoke(
        ["--db", "postgresql://u@127.0.0.1:1/x", *command.split(), *COMMANDS[command]],
        tmp_path,
    )
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1, result.output
    assert lines == [lines[0]] and lines[0].startswith("error: cannot reach the database")
    assert "port 1 failed: Connection refused" in lines[0] and "retry" in lines[0]


def test_a_damaged_database_file_is_one_line_with_what_to_do(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.sqlite"
    damaged.write_bytes(b"this is not a database " * 400)
    result = _invoke(["--db", f"sqlite:///{damaged}", "orders", "list"], tmp_path)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: the database file is damaged or not a database; nothing could be read or "
        "changed: restore it from a backup (or point --db at the right file)"
    ]


@pytest.mark.parametrize("where", ["/nonexistent/dir/s.pdf", "/proc/version", "{tmp}"])
def test_an_unwritable_pdf_path_is_refused_naming_the_option(where: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite'}"
    assert _invoke(["--db", url, "import", str(FIXTURES / "mini")], tmp_path).exit_code == 0
    result = _invoke(["--db", url, "orders", "summary", "ORD-1001", "--pdf", where], tmp_path)
    assert result.exit_code == 2
    assert "--pdf" in result.output and "Traceback" not in result.output
    assert all(p.name.startswith("x.sqlite") for p in tmp_path.iterdir())  # no partial file


UNREACHABLE = ["--db", "postgresql://u@127.0.0.1:1/x", "orders", "list"]


def test_the_installed_command_prints_no_traceback_for_an_unreachable_server() -> None:
    """The real process, as a person runs it (the in-process runner skips `main`)."""
    result = subprocess.run(
        [sys.executable, "-c", "from provisioning.cli import main; main()", *UNREACHABLE],
        capture_output=True,
        text=True,
        env={**os.environ, "ONBOARD_LOG_LEVEL": "warning"},
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
