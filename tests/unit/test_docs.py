"""The README documents every command and every setting (datasette's habit)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from provisioning.cli import cli
from provisioning.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _command_paths(group: click.Group, prefix: str = "onboard") -> Iterator[str]:
    """Through click's own interface: the top-level commands load lazily."""
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            yield from _command_paths(command, path)
        else:
            yield path


@pytest.mark.parametrize("path", sorted(_command_paths(cli)))
def test_every_command_is_in_the_readme(path: str) -> None:
    assert f"`{path}" in README, f"{path} is not documented in README.md"


@pytest.mark.parametrize("env", [env for env, _help, _default in Settings.documented()])
def test_every_setting_is_in_the_readme(env: str) -> None:
    assert f"`{env}`" in README


def test_every_command_has_help() -> None:
    runner = CliRunner()
    for path in _command_paths(cli):
        args = [*path.split()[1:], "--help"]
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output
