"""The `onboard` command line. Each module registers one family of commands."""

from __future__ import annotations

from provisioning.cli import (  # noqa: F401  (registers commands)
    database,
    dataset,
    demo,
    finder,
    orders,
    outbox,
    users,
)
from provisioning.cli.app import cli
from provisioning.failures import configure_logging


def main() -> None:
    configure_logging()
    cli(prog_name="onboard")


__all__ = ["cli", "main"]
