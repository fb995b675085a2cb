"""One typed settings object, built at the entry point and passed down.

Every setting has a default, an environment variable and a line of help; `onboard
settings` prints them and the README documents them (a test keeps the two in step).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from provisioning.errors import FieldError, InvalidInput

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# How an override is named in a refusal: the option a person typed.
OPTION_NAMES = {"database_url": "--db"}


def default_data_dir() -> Path:
    """`data/` of the checkout when running from one, else `./data`."""
    if (PROJECT_ROOT / "pyproject.toml").exists():
        return PROJECT_ROOT / "data"
    return Path.cwd() / "data"


def default_database_url() -> str:
    return f"sqlite:///{default_data_dir() / 'onboard.sqlite'}"


def _setting(env: str, help: str, default: object = None) -> object:
    return field(default=default, metadata={"env": env, "help": help})


def _whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError("must be a whole number") from None
        if value < low or (high is not None and value > high):
            upper = f" and at most {high}" if high is not None else ""
            raise ValueError(f"must be at least {low}{upper}")
        return value

    return parse


def _one_of(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw.strip().lower() not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return raw.strip().lower()

    return parse


def _day_list(raw: str) -> str:
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not parts or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ValueError("must be whole numbers of days above 0, separated by commas")
    return raw


def _web_address(raw: str) -> str:
    parsed = urlsplit(raw.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError("must be an http:// or https:// address, e.g. https://desk.example.com")
    return raw.strip()


def _database_url(raw: str) -> str:
    """A URL the product can open: SQLite or PostgreSQL, and for a SQLite file a folder
    that exists (a typo must not silently create a new, empty database elsewhere)."""
    try:
        parsed = make_url(raw)
    except ArgumentError:
        raise ValueError(
            "is not a database URL: use sqlite:///path/file.sqlite or "
            "postgresql://user@host:5432/dbname"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql", "postgres"):
        raise ValueError(f"{backend!r} databases are not supported: use sqlite or postgresql")
    if backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        folder = Path(parsed.database).expanduser().resolve().parent
        if not folder.is_dir() and folder != default_data_dir().resolve():
            raise ValueError(f"the folder {folder} does not exist: create it, or fix the path")
    return raw


# What each setting must be; a setting not listed takes any text.
_CHECKS: dict[str, Callable[[str], object]] = {
    "database_url": _database_url,
    "smtp_port": _whole_number(1, 65_535),
    "smtp_tls": _one_of("none", "starttls", "ssl"),
    "smtp_timeout": _whole_number(1),
    "outbox_max_attempts": _whole_number(1),
    "outbox_retry_seconds": _whole_number(1),
    "setup_deadline_days": _whole_number(1),
    "reminder_days": _day_list,
    "at_risk_days": _whole_number(0),
    "public_url": _web_address,
    "email_language": _one_of("en", "sv"),
    "session_hours": _whole_number(1, 24 * 30),
}


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = _setting(  # type: ignore[assignment]
        "ONBOARD_DATABASE_URL",
        "SQLAlchemy URL of the database (default: a SQLite file under data/).",
        "",
    )
    actor: str = _setting(  # type: ignore[assignment]
        "ONBOARD_ACTOR", "Account (e-mail) a CLI change or notebook acts as; its role applies.", ""
    )
    smtp_host: str = _setting("ONBOARD_SMTP_HOST", "SMTP server for outgoing e-mail.", "localhost")  # type: ignore[assignment]
    smtp_port: int = _setting("ONBOARD_SMTP_PORT", "SMTP port.", 25)  # type: ignore[assignment]
    smtp_tls: str = _setting(  # type: ignore[assignment]
        "ONBOARD_SMTP_TLS", "none, starttls or ssl.", "none"
    )
    smtp_username: str = _setting("ONBOARD_SMTP_USERNAME", "SMTP user name, if any.", "")  # type: ignore[assignment]
    smtp_password: str = _setting("ONBOARD_SMTP_PASSWORD", "SMTP password, if any.", "")  # type: ignore[assignment]
    mail_from: str = _setting(  # type: ignore[assignment]
        "ONBOARD_MAIL_FROM", "Sender address of outgoing e-mail.", "onboarding@localhost"
    )
    smtp_timeout: int = _setting(  # type: ignore[assignment]
        "ONBOARD_SMTP_TIMEOUT", "Seconds to wait for the SMTP server.", 30
    )
    outbox_max_attempts: int = _setting(  # type: ignore[assignment]
        "ONBOARD_OUTBOX_MAX_ATTEMPTS", "Sending attempts before an e-mail is marked failed.", 8
    )
    outbox_retry_seconds: int = _setting(  # type: ignore[assignment]
        "ONBOARD_OUTBOX_RETRY_SECONDS",
        "First retry delay of a failed e-mail; doubles with each attempt.",
        60,
    )
    setup_deadline_days: int = _setting(  # type: ignore[assignment]
        "ONBOARD_SETUP_DEADLINE_DAYS",
        "Days after it was placed before an order that is not set up expires.",
        30,
    )
    reminder_days: str = _setting(  # type: ignore[assignment]
        "ONBOARD_REMINDER_DAYS",
        "Days before the deadline when reminders go out (comma-separated).",
        "7,3,1",
    )
    at_risk_days: int = _setting(  # type: ignore[assignment]
        "ONBOARD_AT_RISK_DAYS", "Days before the deadline when an order is flagged at risk.", 7
    )
    public_url: str = _setting(  # type: ignore[assignment]
        "ONBOARD_PUBLIC_URL",
        "Address people open the app at: the base of the links in e-mails.",
        "http://localhost:8501",
    )
    email_language: str = _setting(  # type: ignore[assignment]
        "ONBOARD_EMAIL_LANGUAGE",
        "Language (en or sv) of e-mails and link pages for orders from a country "
        "without a language of its own here.",
        "en",
    )
    session_hours: int = _setting(  # type: ignore[assignment]
        "ONBOARD_SESSION_HOURS",
        "Hours a sign-in lasts in the browser (across reloads and new tabs).",
        10,
    )
    session_secret: str = _setting(  # type: ignore[assignment]
        "ONBOARD_SESSION_SECRET",
        "Key signing the sign-in cookie; the same for every app process "
        "(empty: one is generated and kept in the database).",
        "",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Defaults, then the environment, then explicit overrides (CLI options) win.

        Every value is checked here, once: `InvalidInput` names every bad one together
        (by its environment variable, or its option when one was given).
        """
        environ = os.environ if environ is None else environ
        given: dict[str, tuple[str, str]] = {}  # field -> (name to show, raw text)
        for f in fields(cls):
            raw = environ.get(f.metadata["env"])
            if raw is not None and raw != "":
                given[f.name] = (f.metadata["env"], raw)
        for name, value in overrides.items():
            if value is not None:
                shown = OPTION_NAMES.get(name, name)
                given[name] = (shown, value if isinstance(value, str) else str(value))
        values: dict[str, object] = {}
        problems: list[tuple[str, str, str]] = []
        for name, (shown, raw) in given.items():
            check = _CHECKS.get(name)
            try:
                values[name] = check(raw) if check is not None else raw
            except ValueError as exc:
                problems.append((shown, str(exc), raw))
        if problems:
            raise InvalidInput(
                [FieldError(shown, reason, value=raw) for shown, reason, raw in problems],
                summary=f"{len(problems)} setting(s) cannot be used; nothing was done",
            )
        if not values.get("database_url"):
            values["database_url"] = default_database_url()
        return cls(**values)  # type: ignore[arg-type]

    @classmethod
    def documented(cls) -> list[tuple[str, str, object]]:
        """(environment variable, help, default) for each setting."""
        return [(f.metadata["env"], f.metadata["help"], f.default) for f in fields(cls)]
