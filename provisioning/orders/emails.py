"""The e-mails the workflow sends, queued in the outbox by the action that causes them.

Each message has a dedupe key naming its cause, so repeating an action (or two operators
racing on it) can never queue it twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from provisioning.models import Order
from provisioning.outbox import enqueue


@dataclass(frozen=True, slots=True)
class Email:
    kind: str
    recipient: str
    subject: str
    body: str


def welcome(order: Order) -> Email:
    return Email(
        "welcome",
        order.provisioning_email,
        f"Provisioning information required for order {order.order_id}",
        f"Hello,\n\nYour Webex Suite order {order.order_id} for {order.company_name} is "
        "ready to be set up. Choose 'Set up your service' to tell us who the order is for, "
        "map it to your Webex organization and set up its services.\n",
    )


def delegated(order: Order, to: str) -> Email:
    return Email(
        "delegate",
        to,
        f"You have been asked to complete Webex order {order.order_id}",
        f"Hello,\n\n{order.provisioning_email} asked you to complete the setup of the Webex "
        f"Suite order {order.order_id} for {order.company_name}. Open the order to choose "
        "its organization and set up its services.\n",
    )


def approval_request(order: Order, org_name: str, admin: str) -> Email:
    return Email(
        "approval",
        admin,
        f"Approve adding order {order.order_id} to {org_name}",
        f"Hello,\n\nThe Webex Suite order {order.order_id} for {order.company_name} is to "
        f"be added to your organization {org_name}. Please approve or decline the request; "
        "nothing changes in your organization until you do.\n",
    )


def self_setup(order: Order, admin: str, org_name: str) -> Email:
    return Email(
        "self_setup",
        admin,
        f"Set up the services of Webex order {order.order_id}",
        f"Hello,\n\nThe Webex Suite order {order.order_id} has been added to {org_name}. "
        "Your partner has asked you to set up its services yourself: sign in to Control Hub "
        "to create your Meetings sites and Calling locations. Your partner keeps access to "
        "help you.\n",
    )


def reminder(order: Order, deadline: datetime, days_left: int) -> Email:
    return Email(
        "reminder",
        order.delegate_email or order.provisioning_email,
        f"Reminder: set up Webex order {order.order_id} within {days_left} day(s)",
        f"Hello,\n\nThe Webex Suite order {order.order_id} for {order.company_name} is not "
        f"set up yet. Its order lines close on {deadline:%Y-%m-%d}; after that the order "
        "expires.\n",
    )


def expired(order: Order, deadline: datetime) -> Email:
    return Email(
        "expired",
        order.provisioning_email,
        f"Webex order {order.order_id} expired",
        f"Hello,\n\nThe Webex Suite order {order.order_id} for {order.company_name} was not "
        f"set up by {deadline:%Y-%m-%d} and has expired. Contact your partner or Cisco to "
        "reopen it.\n",
    )


def queue(session: Session, email: Email, order: Order, cause: str, now: datetime) -> bool:
    """Queue `email` in the caller's transaction; `cause` makes the dedupe key unique."""
    return enqueue(
        session,
        dedupe_key=f"{email.kind}:{order.order_id}:{cause}",
        kind=email.kind,
        recipient=email.recipient,
        subject=email.subject,
        body=email.body,
        order_id=order.order_id,
        now=now,
    )
