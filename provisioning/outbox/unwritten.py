"""What a sender did at the SMTP server and could not write down because the database
failed (`Backlog`): kept in memory and written first by the next run, so a delivered
message is marked sent as soon as the database is back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError

from provisioning.outbox.report import Outcome, SendReport

log = logging.getLogger("onboard.outbox")


@dataclass(frozen=True, slots=True)
class Unwritten:
    """A result known at the SMTP server that the database failed to take."""

    email_id: int
    delivered: bool  # the server took it: it must end as sent, never be sent again
    write: Callable[[], Outcome | None]


@dataclass(slots=True)
class Backlog:
    """What a sender did and could not write down because the database failed: kept in
    memory by a long-running sender and written, in order, before anything else is
    sent. A delivered message stays in `sending` meanwhile, which no sender claims."""

    steps: list[Unwritten] = field(default_factory=list)

    @property
    def delivered(self) -> list[int]:
        """The messages the server took that are not yet marked sent."""
        return [step.email_id for step in self.steps if step.delivered]

    def write(self, report: SendReport) -> None:
        """Write every step, oldest first; a database error leaves the rest for later."""
        while self.steps:
            outcome = self.steps[0].write()
            self.steps.pop(0)
            if outcome is not None:
                report.outcomes.append(outcome)

    def write_within(self, seconds: float, pause: float = 1.0) -> list[Outcome]:
        """For a sender about to exit: keep trying for `seconds` (a restarting database is
        back within a few), so what it delivered does not stay in `sending`."""
        report, deadline = SendReport(), time.monotonic() + seconds
        while self.steps:
            try:
                self.write(report)
            except SQLAlchemyError:
                log.debug("the database is still failing", exc_info=True)
                if time.monotonic() + pause > deadline:
                    break
                time.sleep(pause)
        return report.outcomes

    def attempt(
        self, email_id: int, write: Callable[[], Outcome | None], *, delivered: bool = False
    ) -> Outcome | None:
        """Run `write` now; if the database fails, keep it for the next run and re-raise."""
        try:
            return write()
        except SQLAlchemyError:
            self.steps.append(Unwritten(email_id, delivered, write))
            raise
