"""The e-mails the workflow sends, queued in the outbox by the action that causes them.

Each message has a dedupe key naming its cause, so repeating an action (or two operators
racing on it) can never queue it twice. Each is plain text with an HTML alternative, in
the order's language (`language_for`), its action both a button and a plain link.

The link itself is not written here: the text holds `outbox.placeholder(...)` and the
row the link's role (`link_role`, an approver's `approval_id`); the sender mints the
token when it sends the message, so no token ever sits in the outbox. Messages with
nothing for the person to open on the order (self-setup points to Control Hub, where the
customer's administrator works; expiry) carry no order link.

`supersede` is what the workflow calls when a change makes mail and links obsolete: it
cancels the unsent e-mails (`outbox.cancel_obsolete`) and revokes the links
(`links.revoke`) in the change's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Protocol, TypeVar

from sqlalchemy import exists, literal, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from provisioning.access import links
from provisioning.db import conflict_insert
from provisioning.errors import FieldError, InvalidInput
from provisioning.i18n import LANGUAGES, N_, format_date, gettext_for
from provisioning.models import Order, OutboxEmail
from provisioning.outbox.queueing import Cancelled, cancel_obsolete, enqueue, placeholder
from provisioning.settings import Settings
from provisioning.states import LinkRole, OrderState, OutboxStatus

# Orders from these countries get their e-mails (and link pages) in that language; the
# others in ONBOARD_EMAIL_LANGUAGE.
COUNTRY_LANGUAGES: dict[str, str] = {"SE": "sv"}
CONTROL_HUB_URL = "https://admin.webex.com"
WELCOME = "welcome"
ARRIVAL = "arrival"  # the cause of the welcome queued when an order arrives
_T = TypeVar("_T")


class OrderFields(Protocol):
    """What a message needs of an order: an `Order`, or a row selected for a bulk queue."""

    @property
    def order_id(self) -> str: ...
    @property
    def company_name(self) -> str: ...
    @property
    def provisioning_email(self) -> str: ...
    @property
    def country(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Email:
    kind: str
    recipient: str
    subject: str
    body: str  # plain text; the link, if any, is a placeholder
    html: str  # the HTML alternative, the same placeholders
    lang: str
    link_role: LinkRole | None = None
    approval_id: int | None = None


def default_language(settings: Settings | None = None) -> str:
    """ONBOARD_EMAIL_LANGUAGE, checked.

    The workflow's actions are called from the CLI, the app and notebooks without the
    settings object, so when none is given it is read from the same environment every
    entry point builds its `Settings` from.
    """
    lang = (settings or Settings.from_env()).email_language
    if lang not in LANGUAGES:
        raise InvalidInput(
            FieldError("ONBOARD_EMAIL_LANGUAGE", f"must be one of {', '.join(LANGUAGES)}", lang)
        )
    return lang


def language_for(country: str | None, default: str | None = None) -> str:
    """The language of an order's e-mails and link pages: its country's, else `default`
    (else ONBOARD_EMAIL_LANGUAGE)."""
    known = COUNTRY_LANGUAGES.get((country or "").upper())
    return known or default or default_language()


# --- Writing one message --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Action:
    label: str  # translated
    url: str  # a placeholder, or a fixed address


def _clean(value: object) -> str:
    """A value someone typed, safe to put in a message: no placeholder can be faked with
    it, and no line break can reach a header."""
    return str(value).replace("\u27e6", "[").replace("\u27e7", "]")


def _one_line(value: str) -> str:
    return " ".join(value.split())


class _Writer:
    """One message in one language: paragraphs with values, then its action(s)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._ = gettext_for(lang)
        self.text: list[str] = []
        self.html: list[str] = []

    def para(self, msgid: str, **values: object) -> None:
        template = self._(msgid)
        self.text.append(template.format(**{k: _clean(v) for k, v in values.items()}))
        escaped = {k: escape(_clean(v)) for k, v in values.items()}
        self.html.append(f"<p>{escape(template).format(**escaped)}</p>")

    def actions(self, actions: Sequence[_Action]) -> None:
        _ = self._
        self.text.append("\n".join(f"{a.label}: {a.url}" for a in actions))
        buttons = " ".join(
            f'<a href="{escape(a.url)}" style="{_BUTTON}">{escape(a.label)}</a>' for a in actions
        )
        self.html.append(f'<p style="margin:24px 0">{buttons}</p>')
        plain = "<br>".join(
            f'{escape(a.label)}: <a href="{escape(a.url)}">{escape(a.url)}</a>' for a in actions
        )
        note = escape(_("If the button does not work, copy this address into your browser:"))
        self.html.append(f'<p style="font-size:13px;color:#555">{note}<br>{plain}</p>')

    def done(
        self,
        kind: str,
        recipient: str,
        subject: str,
        link_role: LinkRole | None = None,
        approval_id: int | None = None,
    ) -> Email:
        subject = _one_line(subject)
        body = "\n\n".join(self.text) + "\n"
        html = (
            f'<!DOCTYPE html>\n<html lang="{self.lang}"><head><meta charset="utf-8">'
            f"<title>{escape(subject)}</title></head>\n"
            f'<body style="font-family:Arial,Helvetica,sans-serif;font-size:15px;'
            f'line-height:1.5;color:#222;max-width:600px">\n'
            + "\n".join(self.html)
            + "\n</body></html>\n"
        )
        return Email(kind, recipient, subject, body, html, self.lang, link_role, approval_id)


_BUTTON = (
    "display:inline-block;padding:12px 24px;margin:0 8px 8px 0;background:#0b5cff;"
    "color:#ffffff;text-decoration:none;border-radius:6px;font-weight:bold"
)


def _personal_link(w: _Writer) -> None:
    w.para(N_("This link is for you alone: do not forward this e-mail."))


def welcome(order: OrderFields, lang: str | None = None) -> Email:
    """To the provisioning contact: the seed's "Provisioning information required for
    order …" with *Configure your service*."""
    w = _Writer(lang or language_for(order.country))
    _ = w._
    w.para(N_("Hello,"))
    w.para(
        N_(
            "Your Webex Suite order {order} for {company} is ready to be set up. Choose "
            "Configure your service to say who the order is for, connect it to a Webex "
            "organization and set up its services."
        ),
        order=order.order_id,
        company=order.company_name,
    )
    w.actions([_Action(_("Configure your service"), placeholder())])
    _personal_link(w)
    w.para(
        N_(
            "If this e-mail was not meant for you, contact the seller you worked with to "
            "place the order."
        )
    )
    subject = _("Provisioning information required for order {order}")
    return w.done(
        WELCOME,
        order.provisioning_email,
        subject.format(order=_clean(order.order_id)),
        LinkRole.CONTACT,
    )


def delegated(order: OrderFields, to: str, lang: str | None = None) -> Email:
    """To the person the order was delegated to: the same wizard, their own link."""
    w = _Writer(lang or language_for(order.country))
    _ = w._
    w.para(N_("Hello,"))
    w.para(
        N_(
            "{contact} asked you to complete the setup of the Webex Suite order {order} for "
            "{company}: say who the order is for, connect it to a Webex organization and set "
            "up its services."
        ),
        contact=order.provisioning_email,
        order=order.order_id,
        company=order.company_name,
    )
    w.actions([_Action(_("Configure your service"), placeholder())])
    _personal_link(w)
    subject = _("You have been asked to complete Webex order {order}")
    return w.done("delegate", to, subject.format(order=_clean(order.order_id)), LinkRole.DELEGATE)


def approval_request(
    order: OrderFields,
    org_name: str,
    admin: str,
    approval_id: int | None = None,
    requested_by: str | None = None,
    lang: str | None = None,
) -> Email:
    """To the org's administrator: *Approve* and *Decline*, bound to this one request."""
    w = _Writer(lang or language_for(order.country))
    _ = w._
    w.para(N_("Hello,"))
    values = {"order": order.order_id, "company": order.company_name, "org": org_name}
    if requested_by:
        w.para(
            N_(
                "The Webex Suite order {order} for {company} is to be added to your "
                "organization {org}, at the request of {requester}."
            ),
            requester=requested_by,
            **values,
        )
    else:
        w.para(
            N_(
                "The Webex Suite order {order} for {company} is to be added to your "
                "organization {org}."
            ),
            **values,
        )
    w.para(
        N_(
            "Please approve or decline the request; nothing changes in your organization "
            "until you do. If you decline, you are asked for a reason."
        )
    )
    w.actions(
        [
            _Action(_("Approve"), placeholder("approve")),
            _Action(_("Decline"), placeholder("decline")),
        ]
    )
    _personal_link(w)
    subject = _("Approve adding order {order} to {org}").format(
        order=_clean(order.order_id), org=_clean(org_name)
    )
    link_role = LinkRole.APPROVER if approval_id is not None else None
    return w.done("approval", admin, subject, link_role, approval_id)


def self_setup(order: OrderFields, admin: str, org_name: str, lang: str | None = None) -> Email:
    """To the customer's administrator: the services are theirs to set up, in Control
    Hub (where they sign in as themselves), so no order link."""
    w = _Writer(lang or language_for(order.country))
    _ = w._
    w.para(N_("Hello,"))
    w.para(
        N_(
            "The Webex Suite order {order} has been added to your organization {org}. Your "
            "partner has asked you to set up its services yourself: sign in to Control Hub to "
            "create your Meetings sites and Calling locations. Your partner keeps access to "
            "help you."
        ),
        order=order.order_id,
        org=org_name,
    )
    w.actions([_Action(_("Sign in to Control Hub"), CONTROL_HUB_URL)])
    subject = _("Set up the services of Webex order {order}")
    return w.done("self_setup", admin, subject.format(order=_clean(order.order_id)))


def reminder(
    order: OrderFields,
    deadline: datetime,
    days_left: int,
    delegate_email: str | None = None,
    lang: str | None = None,
) -> Email:
    """To whoever sets the order up now: the delegate once delegated, else the contact.

    `days_left` is kept for callers; the text names the date, which reads the same in
    both languages whatever the number."""
    lang = lang or language_for(order.country)
    w = _Writer(lang)
    _ = w._
    delegate = delegate_email or getattr(order, "delegate_email", None)
    w.para(N_("Hello,"))
    w.para(
        N_(
            "The Webex Suite order {order} for {company} is not set up yet. Its order lines "
            "close on {date}; after that the order expires."
        ),
        order=order.order_id,
        company=order.company_name,
        date=format_date(deadline, lang),
    )
    w.actions([_Action(_("Configure your service"), placeholder())])
    _personal_link(w)
    subject = _("Reminder: set up Webex order {order} by {date}").format(
        order=_clean(order.order_id), date=format_date(deadline, lang)
    )
    if delegate:
        return w.done("reminder", delegate, subject, LinkRole.DELEGATE)
    return w.done("reminder", order.provisioning_email, subject, LinkRole.CONTACT)


def expired(order: OrderFields, deadline: datetime, lang: str | None = None) -> Email:
    """To the contact: the order lines closed; nothing left to open."""
    lang = lang or language_for(order.country)
    w = _Writer(lang)
    _ = w._
    w.para(N_("Hello,"))
    w.para(
        N_(
            "The Webex Suite order {order} for {company} was not set up by {date} and has "
            "expired. Contact your partner or the seller you worked with to reopen it."
        ),
        order=order.order_id,
        company=order.company_name,
        date=format_date(deadline, lang),
    )
    subject = _("Webex order {order} expired").format(order=_clean(order.order_id))
    return w.done("expired", order.provisioning_email, subject)


def dedupe_key(email: Email, order_id: str, cause: str) -> str:
    return f"{email.kind}:{order_id}:{cause}"


def queue(session: Session, email: Email, order: OrderFields, cause: str, now: datetime) -> bool:
    """Queue `email` in the caller's transaction; `cause` makes the dedupe key unique."""
    return enqueue(
        session,
        dedupe_key=dedupe_key(email, order.order_id, cause),
        kind=email.kind,
        recipient=email.recipient,
        subject=email.subject,
        body=email.body,
        order_id=order.order_id,
        now=now,
        html=email.html,
        lang=email.lang,
        link_role=email.link_role,
        approval_id=email.approval_id,
    )


# --- Orders arriving ------------------------------------------------------------------


def queue_arrivals(conn: Connection, now: datetime, lang: str | None = None) -> int:
    """Queue the welcome of every order that arrived at `now` (an import's stamp), in the
    import's transaction: orders still awaiting intent (a label made the history ones
    decided) with no welcome yet. One per order by its dedupe key, so a second import of
    the same file, or a repeat of this call, queues nothing. Returns how many."""
    default = lang or default_language()
    orders = Order.__table__
    outbox = OutboxEmail.__table__
    arrived = conn.execute(
        select(
            orders.c.order_id,
            orders.c.company_name,
            orders.c.provisioning_email,
            orders.c.country,
        )
        .where(
            orders.c.created_at == literal(now, orders.c.created_at.type),
            orders.c.state == OrderState.AWAITING_INTENT.value,
            ~exists().where(outbox.c.order_id == orders.c.order_id, outbox.c.kind == WELCOME),
        )
        .order_by(orders.c.order_id)
    ).all()
    for batch in _batches(arrived, 1000):
        rows = []
        for order in batch:
            email = welcome(order, language_for(order.country, default))
            rows.append(
                _row(email, order.order_id, dedupe_key(email, order.order_id, ARRIVAL), now)
            )
        statement = conflict_insert(conn, outbox).on_conflict_do_nothing(
            index_elements=["dedupe_key"]
        )
        conn.execute(statement, rows)
    return len(arrived)


def _row(email: Email, order_id: str, key: str, now: datetime) -> dict[str, object]:
    return {
        "dedupe_key": key,
        "kind": email.kind,
        "order_id": order_id,
        "recipient": email.recipient,
        "subject": email.subject,
        "body": email.body,
        "html": email.html,
        "lang": email.lang,
        "link_role": email.link_role.value if email.link_role else None,
        "approval_id": email.approval_id,
        "status": OutboxStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def _batches(items: Sequence[_T], size: int) -> Iterable[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- Superseding ----------------------------------------------------------------------


def supersede(
    session: Session,
    order_id: str,
    reason: str,
    now: datetime,
    *,
    kinds: Iterable[str] | None = None,
    recipient: str | None = None,
    except_recipient: str | None = None,
    approval_id: int | None = None,
    roles: Iterable[LinkRole] | None = None,
    keep_email: str | None = None,
) -> dict[str, object]:
    """Cancel the order's unsent e-mails a change made obsolete and revoke the links it
    supersedes, in the change's transaction; what it did, for the change's audit event
    (empty when nothing was touched).

    E-mails: `kinds`, `recipient` / `except_recipient`, `approval_id` select them
    (`outbox.cancel_obsolete`). Links: `roles` (all when None), the approval's, except
    `keep_email`'s (`links.revoke`). The `after_*` functions below are the workflow's
    cases, each naming what its change makes obsolete.
    """
    cancelled: Cancelled = cancel_obsolete(
        session,
        order_id,
        reason,
        now,
        kinds=kinds,
        recipient=recipient,
        except_recipient=except_recipient,
        approval_id=approval_id,
    )
    noted: dict[str, object] = dict(cancelled.audit())
    revoked = links.revoke(
        session, order_id, reason, now, roles, approval_id=approval_id, keep_email=keep_email
    )
    if revoked:
        noted["links_revoked"] = revoked
    return noted


# The kinds of mail each person gets about setting the order up (the approver's and the
# customer administrator's are about other things).
SETUP_KINDS = (WELCOME, "delegate", "reminder")


def after_contact_changed(
    session: Session, order_id: str, old: str, now: datetime
) -> dict[str, object]:
    """`correct_email`: the old address's welcome and reminders, and the contact's links."""
    return supersede(
        session,
        order_id,
        f"the provisioning e-mail changed from {old}",
        now,
        kinds=(WELCOME, "reminder"),
        recipient=old,
        roles=(LinkRole.CONTACT,),
    )


def after_delegated(session: Session, order_id: str, to: str, now: datetime) -> dict[str, object]:
    """Delegated to `to`: everyone else's set-up mail and links (the contact's, a previous
    delegate's)."""
    return supersede(
        session,
        order_id,
        f"the order was delegated to {to}",
        now,
        kinds=SETUP_KINDS,
        except_recipient=to,
        roles=(LinkRole.CONTACT, LinkRole.DELEGATE),
        keep_email=to,
    )


def after_approval(
    session: Session, order_id: str, approval_id: int, how: str, now: datetime
) -> dict[str, object]:
    """An approval request answered or withdrawn: its e-mail and its links."""
    return supersede(
        session,
        order_id,
        f"the approval request was {how}",
        now,
        kinds=("approval",),
        approval_id=approval_id,
        roles=(LinkRole.APPROVER,),
    )


def after_unmapped(session: Session, order_id: str, now: datetime) -> dict[str, object]:
    """The mapping reversed: the approval request and self-setup mail, and every link
    (the person who sets the order up again gets a fresh one with `resend_welcome`)."""
    return supersede(
        session, order_id, "the mapping was reversed", now, kinds=("approval", "self_setup")
    )


def after_closed(
    session: Session, order_id: str, state: OrderState, now: datetime
) -> dict[str, object]:
    """The order complete or expired: every unsent e-mail and every link."""
    return supersede(session, order_id, f"the order is {state.value}", now)
