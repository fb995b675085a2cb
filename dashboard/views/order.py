"""Order: one order from "who is it for" to its order summary, as workflow.md walks it.

The page reads the order, shows what its state needs (intent, the organization finder,
the administrator's approval, the service setup wizard, the review) and hands each
decision to one service action through `operations.perform`. Refused input is shown next
to its field and nothing is saved; every decision lands in the order's history, which
the finder is trained on.
"""

from __future__ import annotations

import streamlit as st

from dashboard import components, data, ui
from dashboard.data import operations
from dashboard.i18n import _, label
from dashboard.order_finder import finder_step
from dashboard.order_setup import approval_step, review_step, setup_wizard, unmap_step
from provisioning import i18n, orders
from provisioning.access import Permission, allows
from provisioning.errors import NotFound
from provisioning.states import Intent, OrderState

# Widget keys of the order's forms: cleared when another order is opened.
FORM_KEYS = (
    "intent_",
    "email_",
    "delegate_",
    "org_search_",
    "create_org_",
    "approval_",
    "unmap_",
    "self_setup_",
    "meetings_",
    "calling_",
)

url = data.database_url()
viewer = ui.current_actor()


def open_order() -> str:
    """The order in the address (`?order=ID`), or a box to type one."""
    order_id = (st.query_params.get("order") or "").strip()
    if order_id:
        return order_id
    st.title(_("Order"))
    with st.form("order_open_form", border=False):
        typed = st.text_input(_("Order ID"), key="order_open_id", placeholder="ORD-…")
        if st.form_submit_button(_("Open order"), key="order_open") and typed.strip():
            st.query_params["order"] = typed.strip()
            st.rerun()
    st.info(_("Open an order from the queue, or type its ID."))
    st.page_link("views/queue.py", label=_("Back to the queue"), icon=":material/inbox:")
    st.stop()


def forget_other_orders_forms(order_id: str) -> None:
    """Typed values belong to one order: opening another starts its forms afresh."""
    if st.session_state.get("order_page_for") == order_id:
        return
    for key in list(st.session_state):
        if str(key).startswith(FORM_KEYS):
            del st.session_state[key]
    operations.forget_refusals()
    st.session_state["order_page_for"] = order_id


# --- before mapping: who the order is for, the provisioning e-mail ---------------------


def intent_step(view: operations.OrderView) -> None:
    summary = view.summary
    if summary.state == OrderState.DELEGATED:
        st.info(
            _("Delegated to {email}: the order waits for them to say who it is for.").format(
                email=summary.delegate_email
            ),
            icon=":material/forward_to_inbox:",
        )
    st.subheader(_("Who is this order for?"))
    choices = [Intent.CUSTOMER.value] if summary.partner_id else []
    choices += [Intent.OWN_COMPANY.value, Intent.DELEGATE.value]
    problem = operations.refusal("intent")
    components.refusal_summary(problem, placed=("intent", "email"))
    with st.form("intent_form"):
        choice = st.radio(
            _("The order is"),
            choices,
            key="intent_choice",
            format_func=lambda value: label(i18n.INTENTS, value),
            captions=[
                _("Recommended for partners: the partner can support the customer afterwards.")
                if value == Intent.CUSTOMER
                else _("Someone else states who the order is for; they get an e-mail.")
                if value == Intent.DELEGATE
                else ""
                for value in choices
            ],
        )
        components.field_errors(problem, "intent")
        email = st.text_input(
            _("E-mail of the person who completes the order"),
            key="intent_delegate_email",
            help=_("Only when someone else completes the order."),
        )
        components.field_errors(problem, "email")
        if st.form_submit_button(_("Save who the order is for"), key="intent_save", type="primary"):
            operations.perform(
                "intent",
                orders.set_intent,
                summary.order_id,
                choice,
                email=(email.strip() or None) if choice == Intent.DELEGATE else None,
                done=_("Saved: {intent}.").format(intent=label(i18n.INTENTS, choice)),
            )


def email_step(view: operations.OrderView) -> None:
    """Before mapping the provisioning e-mail can be corrected and the welcome re-sent."""
    summary = view.summary
    with st.expander(_("Provisioning e-mail and welcome e-mail")):
        problem = operations.refusal("email")
        components.refusal_summary(problem, placed=("email",))
        st.session_state.setdefault("email_value", summary.provisioning_email)
        with st.form("email_form", border=False):
            email = st.text_input(_("Provisioning e-mail"), key="email_value")
            components.field_errors(problem, "email")
            if st.form_submit_button(_("Correct the e-mail"), key="email_correct"):
                operations.perform(
                    "email",
                    orders.correct_email,
                    summary.order_id,
                    email,
                    done=_("E-mail corrected; the welcome e-mail goes to the new address."),
                )
        if st.button(_("Re-send the welcome e-mail"), key="email_resend"):
            operations.perform(
                "email",
                orders.resend_welcome,
                summary.order_id,
                done=_("The welcome e-mail is queued again."),
            )


# --- the page ---------------------------------------------------------------------------

order_id = open_order()
forget_other_orders_forms(order_id)
try:
    view = operations.order_view(url, viewer, order_id, data.settings().setup_deadline_days)
except NotFound:  # another partner's order too: it is not there for this viewer
    st.title(_("Order"))
    st.error(_("There is no order {order}.").format(order=order_id))
    st.page_link("views/queue.py", label=_("Back to the queue"), icon=":material/inbox:")
    st.stop()

st.page_link("views/queue.py", label=_("Back to the queue"), icon=":material/arrow_back:")
components.order_header(view)
components.flash(operations.take_flash())
components.licence_summary(view.summary.lines)
state = OrderState(view.state)
# A role that may only read sees where the order stands, never a form it cannot submit.
resolves = allows(viewer, Permission.RESOLVE_ORDERS)
if not resolves:
    st.info(_("Read only: your role does not change orders."), icon=":material/visibility:")
if state in (OrderState.AWAITING_INTENT, OrderState.DELEGATED):
    if resolves:
        intent_step(view)
        email_step(view)
elif state is OrderState.AWAITING_ORG:
    finder_step(view, viewer)
    if resolves:
        email_step(view)
elif state is OrderState.AWAITING_APPROVAL:
    if resolves:
        approval_step(view)
        unmap_step(view)
    review_step(view)
elif state is OrderState.ORG_MAPPED:
    if allows(viewer, Permission.PROVISION):
        setup_wizard(view)
    else:
        review_step(view)
    if resolves:
        unmap_step(view)
else:
    st.info(
        _("This order is closed ({state}); here is what it set up.").format(
            state=label(i18n.ORDER_STATES, view.state)
        )
    )
    review_step(view)
components.history(view.summary)
