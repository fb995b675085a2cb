"""SMTP for the outbox: building a message and handing it to the server over one reused
connection, and telling an answer that will never change from one worth retrying.

Kept apart from the outbox's bookkeeping so that what counts as permanent, and how a
session is opened (TLS, login, timeout), can be read and changed in one place.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from types import TracebackType

from provisioning.errors import FieldError, InvalidInput, ProvisioningError
from provisioning.settings import Settings

TLS_MODES = ("none", "starttls", "ssl")


class MailServerUnreachable(ProvisioningError):
    """No SMTP session could be opened (refused, timed out, TLS or login failed).

    Says nothing about any one message, so the outbox does not count it as an attempt.
    """


class DeliveryFailed(Exception):
    """The server did not take one message; `permanent` when asking again cannot help."""

    def __init__(self, text: str, *, permanent: bool) -> None:
        super().__init__(text)
        self.text = text
        self.permanent = permanent


def check_settings(settings: Settings) -> None:
    """Refuse a TLS mode we do not know before anything is claimed or sent."""
    if settings.smtp_tls not in TLS_MODES:
        raise InvalidInput(
            FieldError("ONBOARD_SMTP_TLS", f"must be one of {', '.join(TLS_MODES)}"),
            summary="SMTP settings refused; nothing was sent",
        )


def message_id(dedupe_key: str, mail_from: str) -> str:
    """The same cause always gets the same Message-ID, so a receiver can drop a second
    copy (a stuck message re-queued by hand may already have been delivered).

    Hashed because a dedupe key may hold characters a Message-ID cannot.
    """
    digest = hashlib.sha256(dedupe_key.encode("utf-8")).hexdigest()[:32]
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    return f"<{digest}.onboard@{domain}>"


def build_message(
    settings: Settings,
    *,
    dedupe_key: str,
    recipient: str,
    subject: str,
    body: str,
    date: datetime,
    html: str | None = None,
    lang: str | None = None,
) -> EmailMessage:
    """The plain text, with `html` as its alternative (multipart/alternative: a reader
    shows the richest part it can), in `lang` (Content-Language); raises ValueError for a
    message that cannot be written (a header with a line break), which no retry will fix."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = recipient
    if len(message["To"].addresses) != 1:
        raise ValueError(f"recipient {recipient!r} is not one e-mail address")
    message["Subject"] = subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id(dedupe_key, settings.mail_from)
    # RFC 3834: tells vacation responders not to answer a machine.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    if lang:  # after the content: setting it drops every Content-* header before
        message["Content-Language"] = lang
    return message


def describe(exc: BaseException) -> str:
    """The server's own words when it gave some ("550 5.1.1 no such user")."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{address}: {code} {_text(reply)}" for address, (code, reply) in exc.recipients.items()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return str(exc) or type(exc).__name__


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _permanent(code: int) -> bool:
    return 500 <= code < 600


class SmtpMailer:
    """One SMTP session for a whole batch; reopened once if the server dropped it (a 421,
    a timeout), because servers cap messages per connection."""

    def __init__(self, settings: Settings) -> None:
        check_settings(settings)
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    @property
    def where(self) -> str:
        return f"{self.settings.smtp_host}:{self.settings.smtp_port}"

    def open(self) -> None:
        """Connect, STARTTLS and log in as configured; MailServerUnreachable otherwise."""
        if self._smtp is not None and self._smtp.sock is not None:
            return
        self.close()
        settings = self.settings
        try:
            smtp: smtplib.SMTP
            if settings.smtp_tls == "ssl":
                smtp = smtplib.SMTP_SSL(
                    settings.smtp_host,
                    settings.smtp_port,
                    timeout=settings.smtp_timeout,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(
                    settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout
                )
            try:
                smtp.ehlo_or_helo_if_needed()
                if settings.smtp_tls == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo_or_helo_if_needed()
                if settings.smtp_username:
                    smtp.login(settings.smtp_username, settings.smtp_password)
            except BaseException:
                smtp.close()
                raise
        except (OSError, smtplib.SMTPException) as exc:
            raise MailServerUnreachable(
                f"cannot open an SMTP session with {self.where}: {describe(exc)}"
            ) from exc
        self._smtp = smtp

    def send(self, message: EmailMessage, recipient: str) -> None:
        """Hand one message over; DeliveryFailed when the server did not take it.

        5xx to the recipient or to the message is permanent. A refused sender (our own
        ONBOARD_MAIL_FROM), 4xx answers and lost connections are worth another try.
        """
        self.open()
        assert self._smtp is not None
        try:
            self._smtp.send_message(
                message, from_addr=self.settings.mail_from, to_addrs=[recipient]
            )
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _reply in exc.recipients.values()]
            raise DeliveryFailed(
                describe(exc), permanent=all(_permanent(c) for c in codes)
            ) from exc
        except smtplib.SMTPSenderRefused as exc:
            raise DeliveryFailed(f"sender refused: {describe(exc)}", permanent=False) from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(describe(exc), permanent=_permanent(exc.smtp_code)) from exc
        except smtplib.SMTPNotSupportedError as exc:
            # e.g. a non-ASCII address and a server without SMTPUTF8: never changes.
            raise DeliveryFailed(describe(exc), permanent=True) from exc
        except (smtplib.SMTPException, OSError) as exc:
            # The session is in an unknown state: the next message gets a fresh one.
            self.close()
            raise DeliveryFailed(
                f"connection to {self.where} lost: {describe(exc)}", permanent=False
            ) from exc

    def close(self) -> None:
        if self._smtp is None:
            return
        smtp, self._smtp = self._smtp, None
        try:
            if smtp.sock is not None:
                smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass
        finally:
            smtp.close()

    def __enter__(self) -> SmtpMailer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
