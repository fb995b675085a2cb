"""The order workflow's service layer: one function per action a person takes.

Every action takes the acting user, runs in one transaction holding the order's lock,
writes an audit event, and is safe to repeat (a repeat returns `changed=False`) and to
race (the second of two operators gets a `Conflict`).
"""

from provisioning.orders.deadlines import DeadlinePolicy, SweepReport, sweep
from provisioning.orders.mapping import (
    answer_approval,
    correct_email,
    create_org,
    map_org,
    resend_welcome,
    set_intent,
    unmap,
)
from provisioning.orders.read import load_summary, next_step, order_detail
from provisioning.orders.setup import (
    check_site_name_available,
    configure_later,
    hand_to_customer,
    save_draft,
    set_up_calling,
    set_up_meetings,
)
from provisioning.orders.unit import ActionResult
from provisioning.orders.workflow import Action

__all__ = [
    "Action",
    "ActionResult",
    "DeadlinePolicy",
    "SweepReport",
    "answer_approval",
    "check_site_name_available",
    "configure_later",
    "correct_email",
    "create_org",
    "hand_to_customer",
    "load_summary",
    "map_org",
    "next_step",
    "order_detail",
    "resend_welcome",
    "save_draft",
    "set_intent",
    "set_up_calling",
    "set_up_meetings",
    "sweep",
    "unmap",
]
