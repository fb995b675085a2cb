"""The `onboard` command line. Each module registers one family of commands, imported
only when one of them runs (`provisioning.cli.app.COMMANDS`)."""

from __future__ import annotations

from provisioning.cli.app import cli
from provisioning.failures import configure_logging


def main() -> None:
    configure_logging()
    cli(prog_name="onboard")


__all__ = ["cli", "main"]
