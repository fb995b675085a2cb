"""What a person reads when a command or a page fails for a reason outside its input: one
line with what failed, what became of the work, and what to do — never a traceback.

A database error's text can hold SQL and the customer data bound to it; it is logged at
debug level (`ONBOARD_LOG_LEVEL=debug`), with the engines' `hide_parameters` keeping bound
values out of it, and the line shown names only the kind of failure.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING

from provisioning.errors import InvalidInput

if TYPE_CHECKING:
    from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger("onboard")

KEPT = "the step under way was rolled back; steps already finished are kept"
NOTHING = "nothing was changed"


def configure_logging() -> None:
    """Warnings and above on stderr; `ONBOARD_LOG_LEVEL=debug` adds each failure's detail."""
    level = os.environ.get("ONBOARD_LOG_LEVEL", "warning").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.WARNING),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def explain(exc: BaseException) -> tuple[str, int]:
    """(the line to show, the exit code) for an unexpected failure."""
    # Imported here: the CLI starts without SQLAlchemy, and fails after loading it.
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(exc, InvalidInput):  # settings refused at start
        return f"{exc.summary}: " + "; ".join(str(error) for error in exc.errors), 2
    if isinstance(exc, SQLAlchemyError):
        return _database(exc), 1
    if isinstance(exc, OSError) and exc.filename is not None:
        reason = exc.strerror or type(exc).__name__
        return f"cannot use {exc.filename}: {reason}; {NOTHING} there: check the path", 2
    if isinstance(exc, OSError):
        return f"{exc.strerror or type(exc).__name__}; {KEPT}; retry", 1
    return (
        f"unexpected failure ({type(exc).__name__}); {KEPT}. Run again with "
        "ONBOARD_LOG_LEVEL=debug for the detail, and report it",
        1,
    )


def _database(exc: SQLAlchemyError) -> str:
    from sqlalchemy.exc import DBAPIError

    text = str(exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc).lower()
    if "database is locked" in text or "database table is locked" in text:
        return (
            "the database is busy: another program held its lock for over 30 seconds; "
            f"{KEPT}; retry when it is done"
        )
    if "disk is full" in text or "no space left" in text or "disk i/o error" in text:
        return f"the disk holding the database is full or failing; {KEPT}; free space, retry"
    if "not a database" in text or "malformed" in text or "file is encrypted" in text:
        return (
            "the database file is damaged or not a database; nothing could be read or "
            "changed: restore it from a backup (or point --db at the right file)"
        )
    if "readonly" in text or "read-only" in text or "permission denied" in text:
        return f"the database cannot be written here (read-only or no permission); {KEPT}"
    if (isinstance(exc, DBAPIError) and exc.connection_invalidated) or _unreachable(text):
        return (
            f"cannot reach the database ({_first_line(exc)}): the step that needed it was "
            "not done. Check --db / ONBOARD_DATABASE_URL and that the server is running, "
            "then retry"
        )
    return f"the database refused the command ({type(exc).__name__}); {KEPT}; retry"


def _unreachable(text: str) -> bool:
    return any(
        phrase in text
        for phrase in (
            "connection refused",
            "could not connect",
            "connection failed",
            "server closed the connection",
            "terminating connection",
            "connection is closed",
            "does not exist",
            "password authentication failed",
            "no such host",
            "name or service not known",
            "timeout",
            "unable to open database file",
        )
    )


def _first_line(exc: SQLAlchemyError) -> str:
    """The driver's own first line about a connection (no SQL, no parameters in it)."""
    from sqlalchemy.exc import DBAPIError

    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc
    line = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return line[:200]
