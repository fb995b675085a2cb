"""The order workflow's vocabulary: where an order and each of its services stand.

`workflow.md` part 1 (intent, organization finder) gives the order states; part 2 gives a
state per service. These are stored as strings; the allowed transitions live with the
workflow rules, not here.
"""

from __future__ import annotations

from enum import StrEnum


class OrderState(StrEnum):
    AWAITING_INTENT = "awaiting_intent"  # welcome e-mail sent, nobody has said who it is for
    DELEGATED = "delegated"  # "someone else completes this order": waiting for that person
    AWAITING_ORG = "awaiting_org"  # intent known, the organization finder needs a decision
    AWAITING_APPROVAL = "awaiting_approval"  # the chosen org's administrator must approve
    ORG_MAPPED = "org_mapped"  # point of no return passed; services being set up
    COMPLETE = "complete"  # every service provisioned
    EXPIRED = "expired"  # not set up before the order lines closed
    HISTORY = "history"  # decided outside this product (imported label): training data only

    @property
    def awaits_org(self) -> bool:
        """True while the organization finder still has to decide (the match queue)."""
        return self in _AWAITING_ORG


_AWAITING_ORG = frozenset(
    {OrderState.AWAITING_INTENT, OrderState.DELEGATED, OrderState.AWAITING_ORG}
)


class WaitingOn(StrEnum):
    """Whose move an open order waits for: the customer's side (the people the desk
    e-mailed a link: the contact, the delegate, the org's administrator) or support's."""

    CUSTOMER = "customer"
    SUPPORT = "support"


# Each waits for someone outside the desk who got an e-mail with a link: the welcome (who
# is the order for?), the delegate's invitation, the org administrator's approval request.
# Every other open order (an org to decide, services to set up) is support's to move,
# though the contact may also move it through their link.
WAITING_ON_CUSTOMER = frozenset(
    {OrderState.AWAITING_INTENT, OrderState.DELEGATED, OrderState.AWAITING_APPROVAL}
)


def waiting_on(state: str) -> WaitingOn:
    return WaitingOn.CUSTOMER if state in WAITING_ON_CUSTOMER else WaitingOn.SUPPORT


class ServiceState(StrEnum):
    PENDING = "pending"
    PROVISIONED = "provisioned"
    CONFIGURE_LATER = "configure_later"
    CUSTOMER_SELF_SETUP = "customer_self_setup"


class Intent(StrEnum):
    """Who the order is for (workflow step 2)."""

    CUSTOMER = "customer"
    OWN_COMPANY = "own-company"
    DELEGATE = "delegate"


class Decision(StrEnum):
    """How the order's org was decided; the training history reads this."""

    IMPORTED = "imported"  # a past decision loaded from labels.csv
    ACCEPTED = "accepted"  # the operator accepted the recommendation
    CHOSE_OTHER = "chose_other"  # the operator picked another org than recommended
    CREATED_ORG = "created_org"  # no existing org was right: a new one was created


class ApprovalStatus(StrEnum):
    """An org administrator's answer to a partner attaching an order to their org."""

    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"


class PartnerRole(StrEnum):
    """What a partner provisioning for a customer becomes in the customer's org.

    Control Hub makes a partner *Provisioning Administrator* in an org that already has
    live licences; full administrator rights are only given where there are none.
    """

    PROVISIONING_ADMINISTRATOR = "provisioning_administrator"
    FULL_ADMINISTRATOR = "full_administrator"


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SENDING = "sending"  # claimed by one sender; never handed to a second one
    SENT = "sent"
    FAILED = "failed"  # gave up after the last retry; visible to operators
    CANCELLED = "cancelled"  # made obsolete before it was sent (reason kept); never sent


class Role(StrEnum):
    """What a signed-in person may do; `provisioning.access.permissions` lists each grant."""

    OPERATOR = "operator"  # resolves orders and provisions their services
    MANAGER = "manager"  # reads everything, watches the backlog
    ANALYST = "analyst"  # decision history, trains and publishes scorer models
    PARTNER_ADMIN = "partner_admin"  # an operator limited to one partner's customers
    ADMIN = "admin"  # accounts


class LinkRole(StrEnum):
    """Who acts through an order link from their own e-mail, without an account.

    Each is bound to one order (and an approver to one approval request); the audit trail
    records the person's e-mail with this role.
    """

    CONTACT = "contact"  # the provisioning contact: sets the order up
    DELEGATE = "delegate"  # the person the order was delegated to: the same, once delegated
    APPROVER = "approver"  # an established org's administrator: answers one approval request
