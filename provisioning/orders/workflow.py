"""The order workflow as an explicit state machine: which action may run in which state.

Pure rules (no database): the services ask `require(action, state)` before they change
anything, so a forbidden step is refused with a reason a person can act on, and the same
table documents the workflow for the CLI, the app and the tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from provisioning.errors import Conflict
from provisioning.states import OrderState, ServiceState


class Action(StrEnum):
    """What a person (or the deadline sweep) can do to an order; also the audit verbs."""

    INTENT = "order.intent"
    DELEGATE = "order.delegate"
    CORRECT_EMAIL = "order.email_corrected"
    RESEND_WELCOME = "order.welcome_resent"
    MAP = "order.map"
    REQUEST_APPROVAL = "order.approval_requested"
    APPROVE = "order.approved"
    DECLINE = "order.declined"
    CREATE_ORG = "order.create_org"
    UNMAP = "order.unmap"
    SELF_SETUP = "order.self_setup"
    MEETINGS = "order.meetings"
    CALLING = "order.calling"
    CONFIGURE_LATER = "order.configure_later"
    SAVE_DRAFT = "order.draft_saved"
    BLIND_REVIEW = "order.blind_review"
    COMPLETE = "order.complete"
    AT_RISK = "order.at_risk"
    EXPIRE = "order.expired"


_BEFORE_MAPPING = frozenset(
    {OrderState.AWAITING_INTENT, OrderState.DELEGATED, OrderState.AWAITING_ORG}
)
_SETTING_UP = frozenset({OrderState.ORG_MAPPED})
_OPEN = _BEFORE_MAPPING | {OrderState.AWAITING_APPROVAL, OrderState.ORG_MAPPED}

# action -> the order states it may start from
ALLOWED: dict[Action, frozenset[OrderState]] = {
    Action.INTENT: _BEFORE_MAPPING,
    Action.DELEGATE: _BEFORE_MAPPING,
    Action.CORRECT_EMAIL: _BEFORE_MAPPING,
    Action.RESEND_WELCOME: _BEFORE_MAPPING,
    Action.MAP: frozenset({OrderState.AWAITING_ORG}),
    Action.CREATE_ORG: frozenset({OrderState.AWAITING_ORG}),
    Action.APPROVE: frozenset({OrderState.AWAITING_APPROVAL}),
    Action.DECLINE: frozenset({OrderState.AWAITING_APPROVAL}),
    Action.UNMAP: frozenset({OrderState.AWAITING_APPROVAL, OrderState.ORG_MAPPED}),
    Action.SELF_SETUP: _SETTING_UP,
    Action.MEETINGS: _SETTING_UP,
    Action.CALLING: _SETTING_UP,
    Action.CONFIGURE_LATER: _SETTING_UP,
    Action.SAVE_DRAFT: _SETTING_UP,
    Action.BLIND_REVIEW: _BEFORE_MAPPING,
    Action.AT_RISK: _OPEN,
    Action.EXPIRE: _OPEN,
}

# Why an action is refused in a state, in words that say what to do instead.
_WHY_NOT: dict[OrderState, str] = {
    OrderState.AWAITING_INTENT: "nobody has said who the order is for yet (orders intent)",
    OrderState.DELEGATED: "it waits for the person it was delegated to; state the intent first",
    OrderState.AWAITING_ORG: "it has no organization yet (orders map / orders create-org)",
    OrderState.AWAITING_APPROVAL: "the organization's administrator has not approved it yet",
    OrderState.ORG_MAPPED: "its organization is mapped; reverse the mapping first (orders unmap)",
    OrderState.COMPLETE: "it is complete",
    OrderState.EXPIRED: "it expired: its order lines were closed",
    OrderState.HISTORY: "it was decided outside this product (history)",
}


_VERB: dict[Action, str] = {
    Action.INTENT: "change who the order is for",
    Action.DELEGATE: "delegate the order",
    Action.CORRECT_EMAIL: "correct the provisioning e-mail",
    Action.RESEND_WELCOME: "re-send the welcome e-mail",
    Action.MAP: "map an organization",
    Action.CREATE_ORG: "create an organization",
    Action.APPROVE: "approve",
    Action.DECLINE: "decline",
    Action.UNMAP: "reverse the mapping",
    Action.SELF_SETUP: "hand the setup to the customer",
    Action.MEETINGS: "set up Meetings",
    Action.CALLING: "set up Calling",
    Action.CONFIGURE_LATER: "configure a service later",
    Action.SAVE_DRAFT: "save a draft",
    Action.BLIND_REVIEW: "record a blind review",
    Action.AT_RISK: "flag the order at risk",
    Action.EXPIRE: "expire the order",
}


def require(action: Action, state: str | OrderState, order_id: str) -> None:
    """Refuse `action` unless the workflow allows it from `state`."""
    current = OrderState(state)
    if current not in ALLOWED[action]:
        raise Conflict(f"order {order_id}: cannot {_VERB[action]} now: {_WHY_NOT[current]}")


def is_before_mapping(state: str | OrderState) -> bool:
    """Before the point of no return: the e-mail and the intent can still change."""
    return OrderState(state) in _BEFORE_MAPPING


# service state -> the states an operator may move it to
SERVICE_TRANSITIONS: dict[ServiceState, frozenset[ServiceState]] = {
    ServiceState.PENDING: frozenset(
        {
            ServiceState.PROVISIONED,
            ServiceState.CONFIGURE_LATER,
            ServiceState.CUSTOMER_SELF_SETUP,
        }
    ),
    ServiceState.CONFIGURE_LATER: frozenset(
        {ServiceState.PROVISIONED, ServiceState.CUSTOMER_SELF_SETUP}
    ),
    ServiceState.CUSTOMER_SELF_SETUP: frozenset(
        {ServiceState.PROVISIONED, ServiceState.CONFIGURE_LATER}
    ),
    ServiceState.PROVISIONED: frozenset(),
}


def require_service(service: str, current: str, target: ServiceState, order_id: str) -> None:
    state = ServiceState(current)
    if target not in SERVICE_TRANSITIONS[state]:
        raise Conflict(
            f"order {order_id}: {service} is {state.value.replace('_', ' ')}; "
            f"it cannot become {target.value.replace('_', ' ')}"
        )


def is_complete(service_states: Iterable[str]) -> bool:
    """An order is complete when every one of its services is provisioned."""
    states = list(service_states)
    return bool(states) and all(s == ServiceState.PROVISIONED for s in states)


def holds_deadline(state: str, service_states: Iterable[str]) -> bool:
    """Is the order still racing its order lines' closing date?

    Until the org is mapped, always. After it, only while some service is still
    `pending`: "configure later" and "customer sets up" are decisions a person took, so
    the licences are in the org and the lines do not lapse.
    """
    current = OrderState(state)
    if current in _BEFORE_MAPPING or current == OrderState.AWAITING_APPROVAL:
        return True
    if current == OrderState.ORG_MAPPED:
        return any(s == ServiceState.PENDING for s in service_states)
    return False
