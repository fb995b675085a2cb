"""One typed settings object, built at the entry point and passed down.

Every setting has a default, an environment variable and a line of help; `onboard
settings` prints them and the README documents them (a test keeps the two in step).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def default_data_dir() -> Path:
    """`data/` of the checkout when running from one, else `./data`."""
    if (PROJECT_ROOT / "pyproject.toml").exists():
        return PROJECT_ROOT / "data"
    return Path.cwd() / "data"


def default_database_url() -> str:
    return f"sqlite:///{default_data_dir() / 'onboard.sqlite'}"


def _setting(env: str, help: str, default: object = None) -> object:
    return field(default=default, metadata={"env": env, "help": help})


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
        """Defaults, then the environment, then explicit overrides (CLI options) win."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = environ.get(f.metadata["env"])
            if raw is not None and raw != "":
                values[f.name] = int(raw) if isinstance(f.default, int) else raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)  # type: ignore[arg-type]
        if not settings.database_url:
            settings = cls(**{**values, "database_url": default_database_url()})  # type: ignore[arg-type]
        return settings

    @classmethod
    def documented(cls) -> list[tuple[str, str, object]]:
        """(environment variable, help, default) for each setting."""
        return [(f.metadata["env"], f.metadata["help"], f.default) for f in fields(cls)]
