"""The CLI starts at once: its entry point imports no heavy library, and each command's
module is imported only when the command runs — with the help `onboard --help` lists."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import click
from click.testing import CliRunner

from provisioning.cli import cli
from provisioning.cli.app import COMMANDS

HEAVY = ("sklearn", "pandas", "skops", "scipy", "sqlalchemy", "mapie", "streamlit")


def _loaded_after(code: str) -> set[str]:
    """The top-level packages a fresh interpreter holds after running `code`."""
    report = "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    probe = f"{code}\nimport json, sys\n{report}"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_the_entry_point_and_help_load_no_heavy_library() -> None:
    assert not _loaded_after("import provisioning.cli") & set(HEAVY)
    help_run = (
        "import sys\nfrom provisioning.cli import main\nsys.argv = ['onboard', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    assert not _loaded_after(help_run) & set(HEAVY)


def test_showing_an_order_does_not_load_the_finder() -> None:
    assert not _loaded_after("import provisioning.cli.orders") & {"sklearn", "skops", "mapie"}


def test_the_listed_help_is_each_commands_own() -> None:
    for name, (module, short_help) in COMMANDS.items():
        importlib.import_module(f"provisioning.cli.{module}")
        command = cli.commands[name]  # registered by its module
        assert command.get_short_help_str(limit=500) == short_help, name
    ctx = click.Context(cli)
    assert set(cli.list_commands(ctx)) == set(COMMANDS) == set(cli.commands)
    listed = CliRunner().invoke(cli, ["--help"]).output
    assert all(f"  {name} " in listed for name in COMMANDS)
