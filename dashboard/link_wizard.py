"""The contact's (and the delegate's) setup wizard, in the seed's words (workflow.md).

Who the order is for, the organization finder's outcome and the organizations it offers,
a new organization, the review, then each service and the order summary PDF. The step
shown is derived from the order's state and its services (`orders.customer.step_of`), so
the link reopens where the person left. Each decision is one service function, the same
an operator's page calls, made as the link's actor (`link_access.perform`).

A customer is shown only `orders.customer`'s read models: names, domains, counts, dates.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import components, link_access
from dashboard.data import current_database, database_url
from dashboard.data.operations import site_check
from dashboard.i18n import _, current_language, fmt_date, fmt_number, label
from dashboard.order_setup import (
    licences_distributed,
    location_form,
    site_inputs,
    whole,
    zones_for,
)
from provisioning import i18n, orders
from provisioning.access import Actor
from provisioning.i18n import N_
from provisioning.orders import ActionResult, customer
from provisioning.orders.customer import Step
from provisioning.orders.summary import ServiceSummary
from provisioning.orders.summary_pdf import render_summary
from provisioning.rules import (
    INDUSTRY_VERTICALS,
    MAX_SITES,
    default_timezone,
)
from provisioning.states import Intent, OrderState, ServiceState

# Who the order is for, as the seed puts the choice to the buyer.
INTENT_CHOICES = {
    Intent.CUSTOMER.value: N_("This order is for a customer"),
    Intent.OWN_COMPANY.value: N_("This order is for my company"),
    Intent.DELEGATE.value: N_("I want someone else to complete this order"),
}


def page(actor: Actor) -> None:
    order = customer.order_view(current_database(), actor)
    st.title(_("Set up your service"))
    st.caption(
        _("Order {order} for {company}").format(order=order.order_id, company=order.company_name)
    )
    components.flash(link_access.take_flash())
    if order.step in (Step.INTENT, Step.ORGANIZATION):
        components.licence_summary(order.lines)
    if order.step == Step.INTENT:
        intent_step(actor, order)
    elif order.step == Step.WAITING_FOR_DELEGATE:
        st.info(
            _(
                "You asked {email} to complete this order. They received an e-mail with a "
                "link; nothing more is needed from you."
            ).format(email=order.delegate_email),
            icon=":material/forward_to_inbox:",
        )
    elif order.step == Step.ORGANIZATION:
        organization_step(actor, order)
    elif order.step == Step.WAITING_FOR_APPROVAL:
        st.subheader(_("Waiting for the organization's approval"))
        st.info(
            _(
                "An administrator of {org} was asked to approve adding this order to the "
                "organization. Once they answer, open this link again to continue."
            ).format(org=order.asked_org_name or "—"),
            icon=":material/hourglass_top:",
        )
    else:
        organization_review(order)
        if order.step == Step.SERVICES:
            services_step(actor, order)
        review_step(actor, order)


# --- part 1: who the order is for, and the organization -------------------------------


def intent_step(actor: Actor, order: customer.CustomerOrder) -> None:
    st.subheader(_("Who is this order for?"))
    choices = [Intent.CUSTOMER.value] if order.partner_id else []
    choices += [Intent.OWN_COMPANY.value, Intent.DELEGATE.value]
    problem = link_access.refusal("intent")
    components.refusal_summary(problem, placed=("intent", "email"))
    # Labels made now, in the page's language: a format function is also called later,
    # outside this run (AppTest reads widget values that way).
    labels = {value: _(INTENT_CHOICES[value]) for value in choices}
    with st.form("link_intent_form"):
        choice = st.radio(
            _("Who is this order for?"),
            choices,
            key="link_intent",
            format_func=labels.__getitem__,
            captions=[
                _("Recommended for partners: the partner can support the customer afterwards.")
                if value == Intent.CUSTOMER
                else _("Enter their e-mail address: the order waits for them.")
                if value == Intent.DELEGATE
                else ""
                for value in choices
            ],
            label_visibility="collapsed",
        )
        components.field_errors(problem, "intent")
        email = st.text_input(
            _("E-mail of the person who completes the order"),
            key="link_intent_email",
            help=_("Only when someone else completes the order."),
        )
        components.field_errors(problem, "email")
        if st.form_submit_button(_("Next"), key="link_intent_next", type="primary"):
            delegating = choice == Intent.DELEGATE
            link_access.perform(
                actor,
                "intent",
                orders.set_intent,
                order.order_id,
                choice,
                email=(email.strip() or None) if delegating else None,
                done=_("Thank you: {email} received an e-mail to complete the order.").format(
                    email=email.strip()
                )
                if delegating
                else _("Saved: {choice}.").format(choice=_(INTENT_CHOICES[choice])),
            )


@st.cache_data(ttl=30, show_spinner=False)
def _finder(url: str, viewer: Actor) -> customer.FinderView:
    """The finder ranks every org: cached briefly per link person, cleared by any action."""
    return customer.finder_view(current_database(), viewer)


def organization_step(actor: Actor, order: customer.CustomerOrder) -> None:
    st.subheader(_("Organization finder"))
    found = _finder(database_url(), actor)
    components.outcome_sentence(found.outcome)
    if found.outcome == "domain":
        st.caption(
            _(
                "Review them carefully. Verified or claimed domains, the number of active "
                "users and recent user activity help you pick the right one."
            )
        )
    components.refusal_summary(link_access.refusal("finder"))
    for choice in found.choices:
        org_card(actor, order, choice, found.domain)
    create_org_step(actor, order, expanded=not found.choices)


def evidence(choice: customer.OrgChoice, domain: str | None) -> list[str]:
    """The facts the seed says help pick the right organization."""
    said = []
    if choice.holds_your_address:
        said.append(_("Your e-mail address is one of its users"))
    for name, status in choice.domains:
        shown = i18n.DOMAIN_STATUSES.get(status)
        said.append(
            _("Domain {domain}: {status}").format(domain=name, status=_(shown) if shown else status)
        )
    if not choice.domains and choice.users_on_domain is not None and domain:
        said.append(
            _("No domain added; {count} users on {domain}").format(
                count=fmt_number(choice.users_on_domain), domain=domain
            )
        )
    said.append(
        _("{active} active of {members} users").format(
            active=fmt_number(choice.active_users), members=fmt_number(choice.users)
        )
    )
    if choice.last_activity is None:
        said.append(_("No user has ever been active"))
    else:
        said.append(_("Last activity {date}").format(date=fmt_date(choice.last_activity)))
    if choice.country:
        said.append(_("Country: {country}").format(country=components.country(choice.country)))
    if choice.managed_by_your_partner:
        said.append(_("Managed by your partner"))
    return said


def org_card(
    actor: Actor, order: customer.CustomerOrder, choice: customer.OrgChoice, domain: str | None
) -> None:
    with st.container(border=True):
        facts, button = st.columns([4, 1], vertical_alignment="center")
        facts.markdown(f"**{choice.name}**")
        facts.markdown("\n".join(f"- {line}" for line in evidence(choice, domain)))
        if button.button(
            _("Choose this organization"), key=f"link_pick_{choice.org_id}", type="primary"
        ):
            link_access.perform(
                actor,
                "finder",
                orders.map_org,
                order.order_id,
                choice.org_id,
                done=_("You chose {name}.").format(name=choice.name),
            )


def create_org_step(actor: Actor, order: customer.CustomerOrder, *, expanded: bool) -> None:
    """No organization is right: create one (company name, industry, country or region)."""
    with st.expander(_("Create a new organization"), expanded=expanded):
        problem = link_access.refusal("create_org")
        components.refusal_summary(problem, placed=("name", "industry", "country"))
        codes = components.country_codes()
        countries = {code: components.country(code) for code in codes}
        industries = {
            v: _(i18n.INDUSTRIES[v]) if v in i18n.INDUSTRIES else v for v in INDUSTRY_VERTICALS
        }
        st.session_state.setdefault("link_org_name", order.company_name)
        if order.country in codes:
            st.session_state.setdefault("link_org_country", order.country)
        with st.form("link_create_org_form", border=False):
            name = st.text_input(_("Company name"), key="link_org_name", max_chars=255)
            components.field_errors(problem, "name")
            industry = st.selectbox(
                _("Industry"),
                INDUSTRY_VERTICALS,
                index=None,
                key="link_org_industry",
                placeholder=_("Choose an industry"),
                format_func=industries.__getitem__,
            )
            components.field_errors(problem, "industry")
            country = st.selectbox(
                _("Country or region"),
                codes,
                index=None,
                key="link_org_country",
                format_func=countries.__getitem__,
            )
            components.field_errors(problem, "country")
            st.caption(_("Check the details, then choose Next."))
            if st.form_submit_button(_("Next"), key="link_create_org", type="primary"):
                link_access.perform(
                    actor,
                    "create_org",
                    orders.create_org,
                    order.order_id,
                    name,
                    industry or "",
                    country or "",
                    done=_("Created {name}.").format(name=name.strip()),
                )


def organization_review(order: customer.CustomerOrder) -> None:
    st.subheader(_("Your organization"))
    lines = [f"**{order.org_name}** · {components.country(order.org_country)}"]
    if order.partner_role:
        lines.append(
            _("Your role there: {role}").format(role=label(i18n.PARTNER_ROLES, order.partner_role))
        )
    st.markdown("  \n".join(lines))


# --- part 2: the services ---------------------------------------------------------------


def services_step(actor: Actor, order: customer.CustomerOrder) -> None:
    st.subheader(_("Service setup"))
    open_services = [s for s in order.services if s.state != ServiceState.PROVISIONED]
    if order.intent == Intent.CUSTOMER and open_services:
        self_setup_step(actor, order)
    for service in order.services:
        with st.container(border=True):
            st.markdown(
                f"**{label(i18n.SERVICES, service.service)}** — "
                f"{label(i18n.SERVICE_STATES, service.state)}"
            )
            if service.state == ServiceState.PROVISIONED:
                continue
            if service.state == ServiceState.CUSTOMER_SELF_SETUP:
                st.caption(_("Your customer's administrator sets this service up."))
                continue
            if service.state == ServiceState.CONFIGURE_LATER:
                st.caption(_("Left for later: you can set it up now or come back to it."))
            if service.service == "meetings":
                meetings_form(actor, order, service)
            else:
                calling_form(actor, order, service)
            if service.state == ServiceState.PENDING and st.button(
                _("Configure later"), key=f"link_later_{service.service}"
            ):
                link_access.perform(
                    actor,
                    service.service,
                    orders.configure_later,
                    order.order_id,
                    service.service,
                    done=_("{service} will be configured later.").format(
                        service=label(i18n.SERVICES, service.service)
                    ),
                )


def self_setup_step(actor: Actor, order: customer.CustomerOrder) -> None:
    with st.expander(_("My customer will set up their own services")):
        st.caption(
            _(
                "An e-mail goes to your customer's administrator to continue; you keep "
                "access to the customer's organization."
            )
        )
        problem = link_access.refusal("self_setup")
        components.refusal_summary(problem, placed=("admin_email",))
        with st.form("link_self_setup_form", border=False):
            email = st.text_input(_("Administrator's e-mail"), key="link_self_setup_email")
            components.field_errors(problem, "admin_email")
            if st.form_submit_button(_("Send to my customer"), key="link_self_setup"):
                link_access.perform(
                    actor,
                    "self_setup",
                    orders.hand_to_customer,
                    order.order_id,
                    email,
                    done=_("Sent: {email} continues the setup.").format(email=email.strip()),
                )


def _complete(result: ActionResult) -> str | None:
    return "complete" if result.state == OrderState.COMPLETE else None


def meetings_form(actor: Actor, order: customer.CustomerOrder, service: ServiceSummary) -> None:
    """Webex site URL name(s), licences split across them, time zone, early release."""
    country = order.country or order.org_country or ""
    zones = zones_for(country)
    draft = order.draft("meetings")
    if "link_meetings_rows" not in st.session_state:
        drafted = [site for site in draft.get("sites") or [] if isinstance(site, dict)]
        drafted = drafted[:MAX_SITES]
        if not drafted:  # a free name from the company name, every licence on it
            free = site_check(database_url(), actor, "", order.company_name)
            drafted = [{"name": next(iter(free["suggestions"]), ""), "licences": service.licences}]
        st.session_state["link_meetings_rows"] = len(drafted)
        for number, site in enumerate(drafted, start=1):
            st.session_state[f"link_site_name_{number}"] = str(site.get("name") or "")
            st.session_state[f"link_site_licences_{number}"] = whole(site.get("licences"))
        st.session_state["link_meetings_early_release"] = bool(draft.get("early_release"))
    if st.session_state.get("link_meetings_timezone") not in zones:
        drafted_zone = draft.get("timezone")
        st.session_state["link_meetings_timezone"] = (
            drafted_zone if drafted_zone in zones else default_timezone(country) or "UTC"
        )
    rows = st.session_state["link_meetings_rows"]
    problem = link_access.refusal("meetings")
    placed = {"sites", "licences", "timezone", "site"}
    placed |= {f"site[{n}].{part}" for n in range(1, rows + 1) for part in ("name", "licences")}
    components.refusal_summary(problem, placed=placed)
    components.field_errors(problem, "sites")
    components.field_errors(problem, "site")
    sites: list[tuple[str, int]] = []
    for number in range(1, rows + 1):
        st.session_state.setdefault(f"link_site_name_{number}", "")
        st.session_state.setdefault(f"link_site_licences_{number}", 0)
        name_col, licences_col = st.columns([3, 1])
        sites.append(site_inputs("link_", number, problem, name_col, licences_col))
    if rows < MAX_SITES and st.button(
        _("I need additional URLs"), key="link_meetings_add_site", icon=":material/add:"
    ):
        st.session_state["link_meetings_rows"] = rows + 1
        st.rerun()
    licences_distributed(sites, service.licences, problem)
    timezone = st.selectbox(_("Time zone"), zones, key="link_meetings_timezone")
    components.field_errors(problem, "timezone")
    early = st.checkbox(
        _("Early release: the site gets new features before the normal schedule"),
        key="link_meetings_early_release",
    )
    save_col, draft_col = st.columns(2)
    if save_col.button(_("Set up Meetings"), key="link_meetings_save", type="primary"):
        link_access.perform(
            actor,
            "meetings",
            orders.set_up_meetings,
            order.order_id,
            sites,
            timezone,
            early_release=early,
            done=_("Webex Meetings is set up."),
            finished=_complete,
        )
    if draft_col.button(_("Save draft"), key="link_meetings_draft"):
        link_access.perform(
            actor,
            "meetings",
            orders.save_draft,
            order.order_id,
            "meetings",
            {
                "sites": [{"name": name, "licences": count} for name, count in sites],
                "timezone": timezone,
                "early_release": early,
            },
            done=_("Draft saved: the form reopens as you left it."),
        )


def calling_form(actor: Actor, order: customer.CustomerOrder, service: ServiceSummary) -> None:
    """Only the main office location now; more locations after provisioning."""
    problem = link_access.refusal("calling")
    location, save, keep = location_form(
        "link_",
        order.company_name,
        order.country or order.org_country,
        order.draft("calling"),
        problem,
    )
    if save:
        link_access.perform(
            actor,
            "calling",
            orders.set_up_calling,
            order.order_id,
            done=_("Webex Calling is set up."),
            finished=_complete,
            **location,
        )
    if keep:
        link_access.perform(
            actor,
            "calling",
            orders.save_draft,
            order.order_id,
            "calling",
            location,
            done=_("Draft saved: the form reopens as you left it."),
        )


# --- the review and the order summary -------------------------------------------------


def summary_pdf(actor: Actor, lang: str) -> Any:
    """Made when the person clicks the download button, not on every page view."""
    db = current_database()

    def render() -> bytes:
        return render_summary(customer.summary_for(db, actor), lang)

    return render


def review_step(actor: Actor, order: customer.CustomerOrder) -> None:
    st.divider()
    components.review(customer.summary_for(current_database(), actor))
    pdf_button(actor, order.order_id)


def pdf_button(actor: Actor, order_id: str) -> None:
    lang = current_language()
    st.download_button(
        _("Download order summary (PDF)"),
        data=summary_pdf(actor, lang),
        file_name=f"order-summary-{order_id}-{lang}.pdf",
        mime="application/pdf",
        key="link_pdf",
        icon=":material/download:",
        on_click="ignore",
    )


def finished(done: link_access.Done) -> None:
    """The link's work is done (it stops working now): every service is set up, and this
    session still shows the review and the order summary; or the order went on to
    someone else (a delegate, the customer's administrator)."""
    components.flash(link_access.take_flash())
    if done.kind != "complete":  # handed to someone else: this link's part is done
        st.title(_("Set up your service"))
        st.info(
            _("Nothing more is needed from you through this link. You can close this page."),
            icon=":material/task_alt:",
        )
        return
    st.title(_("Your services are set up"))
    st.success(_("Every service of the order is set up. Thank you."), icon=":material/task_alt:")
    summary = customer.summary_for(current_database(), done.actor)
    components.review(summary)
    pdf_button(done.actor, summary.order_id)
