"""The org administrator's answer page: what is asked, Approve, or Decline with a reason.

Opened from the approval e-mail's *Approve* or *Decline* button (`&answer=…` only puts
that choice first: opening a link never answers by itself, since mail scanners open
links too). The answer is `orders.mapping.answer_approval` as the approver's link actor,
audited as the approver with their e-mail; an answer after the order moved on is a
`Conflict` and gets its own clear page.
"""

from __future__ import annotations

import streamlit as st

from dashboard import components, link_access
from dashboard.data import current_database
from dashboard.i18n import _, fmt_date, fmt_number, label
from provisioning import i18n, orders
from provisioning.access import Actor
from provisioning.orders import customer
from provisioning.orders.unit import ActionResult


def page(actor: Actor) -> None:
    request = customer.approval_request(current_database(), actor)
    st.title(_("Approve adding an order to {org}").format(org=request.org_name))
    components.flash(link_access.take_flash())
    details(request)
    if not request.pending:
        answered(request.status)
        return
    answer(actor, request)


def details(request: customer.ApprovalRequest) -> None:
    st.markdown(
        _(
            "{asker} asked to add this order to **{org}**, the organization you administer. "
            "Only you can say whether it belongs there."
        ).format(asker=request.requested_by, org=request.org_name)
    )
    facts = [
        (_("Order"), request.order_id),
        (_("Company"), request.company_name),
        (_("Country or region"), components.country(request.country) or "—"),
        (_("Asked by"), request.requested_by),
        (_("Asked on"), fmt_date(request.requested_at)),
        (_("Organization"), request.org_name),
    ]
    if request.partner_name:
        facts.insert(3, (_("Partner"), request.partner_name))
    st.markdown("\n".join(f"- **{name}**: {value}" for name, value in facts))
    st.markdown("**" + _("Services and licences") + "**")
    for line in request.lines:
        st.markdown(
            "- "
            + _("{service}: {count} licences").format(
                service=label(i18n.SERVICES, line.service), count=fmt_number(line.quantity)
            )
        )


def answer(actor: Actor, request: customer.ApprovalRequest) -> None:
    declining = st.session_state.get(link_access.ANSWER_KEY) == "decline"
    problem = link_access.refusal("approval")
    components.refusal_summary(problem, placed=("reason",))
    approve = st.button(
        _("Approve"),
        key="link_approve",
        type="secondary" if declining else "primary",
        icon=":material/check:",
    )
    if approve:
        link_access.perform(
            actor,
            "approval",
            orders.answer_approval,
            request.order_id,
            True,
            done=_("You approved: the order is added to {org}.").format(org=request.org_name),
            finished=_approved,
            moved_on=True,
        )
    with st.form("link_decline_form"):
        st.markdown("**" + _("Decline") + "**")
        reason = st.text_area(
            _("Why does this order not belong in the organization?"),
            key="link_decline_reason",
            help=_("The person who asked reads your reason."),
        )
        components.field_errors(problem, "reason")
        if st.form_submit_button(
            _("Decline"), key="link_decline", type="primary" if declining else "secondary"
        ):
            if not reason.strip():
                link_access.refuse(
                    "approval",
                    _("Nothing was saved. Correct the fields marked below."),
                    (("reason", _("Say why you decline, so the person who asked can act.")),),
                )
            link_access.perform(
                actor,
                "approval",
                orders.answer_approval,
                request.order_id,
                False,
                reason=reason.strip(),
                done=_("You declined: the order will be set up in another organization."),
                finished=_declined,
                moved_on=True,
            )


def _approved(_result: ActionResult) -> str:
    return "approved"


def _declined(_result: ActionResult) -> str:
    return "declined"


def answered(status: str) -> None:
    st.info(
        _("This request was already answered ({status}); nothing more is needed.").format(
            status=label(i18n.APPROVAL_STATUSES, status)
        ),
        icon=":material/task_alt:",
    )


def finished(done: link_access.Done) -> None:
    """After the answer (or a refused late one): say what happened, offer nothing more."""
    components.flash(link_access.take_flash())
    if done.kind == "moved_on":
        st.title(_("This request was already answered"))
        st.info(
            _(
                "The request was answered already, or the order moved on in the meantime; "
                "nothing was changed. Nothing more is needed from you."
            ),
            icon=":material/info:",
        )
        return
    st.title(_("Thank you"))
    if done.kind == "approved":
        st.markdown(_("You approved adding the order to your organization."))
    else:
        st.markdown(_("You declined adding the order to your organization."))
    st.caption(_("You can close this page."))
