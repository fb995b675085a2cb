"""The Order page after the point of no return: the administrator's approval, the
reversal, and the service setup wizard with its review and summary PDF. Rendered by
`views/order.py`."""

from __future__ import annotations

from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard import components, data, ui
from dashboard.data import operations
from dashboard.i18n import _, current_language, fmt_number, label
from provisioning import i18n, orders
from provisioning.orders.summary import ServiceSummary
from provisioning.orders.workflow import SERVICE_TRANSITIONS
from provisioning.rules import (
    CALLING_LANGUAGES,
    LOCATION_FIELDS,
    MAX_SITES,
    USERS_MANAGED_IN,
    accepted_timezones,
    default_sip_address,
    default_timezone,
    timezones_for_country,
)
from provisioning.states import Intent, ServiceState

# The choice "whatever suits the location's country" in the Calling form's selectboxes
# (None would show as no choice at all).
COUNTRY_DEFAULT = ""


def _url() -> str:
    return data.database_url()


# --- after mapping ----------------------------------------------------------------------


def approval_step(view: operations.OrderView) -> None:
    approval = view.detail["approval"] or {}
    st.subheader(_("Waiting for the organization's approval"))
    st.info(
        _(
            "{admin}, an administrator of {org}, was asked to approve adding this order "
            "to the organization."
        ).format(
            admin=approval.get("admin_email") or "—",
            org=view.summary.org_name or view.summary.org_id,
        ),
        icon=":material/approval:",
    )
    problem = operations.refusal("approval")
    components.refusal_summary(problem)
    reason = st.text_input(_("Reason (when declined)"), key="approval_reason")
    approve_col, decline_col = st.columns(2)
    if approve_col.button(
        _("Record: approved"), key="approval_approve", type="primary", width="stretch"
    ):
        operations.perform(
            "approval",
            orders.answer_approval,
            view.order_id,
            True,
            reason=reason.strip() or None,
            done=_("Approved: the order is mapped to the organization."),
        )
    if decline_col.button(_("Record: declined"), key="approval_decline", width="stretch"):
        operations.perform(
            "approval",
            orders.answer_approval,
            view.order_id,
            False,
            reason=reason.strip() or None,
            done=_("Declined: the order is back in the organization finder."),
        )


def unmap_step(view: operations.OrderView) -> None:
    """The explicit, audited reversal; impossible once sites or locations exist."""
    summary = view.summary
    if any(s.sites or s.locations for s in summary.services):
        return
    with st.expander(_("Reverse the mapping")):
        st.caption(
            _(
                "Sends the order back to the organization finder. Possible only while "
                "nothing is set up in the organization."
            )
        )
        problem = operations.refusal("unmap")
        components.refusal_summary(problem, placed=("reason",))
        with st.form("unmap_form", border=False):
            reason = st.text_input(_("Why is the mapping reversed?"), key="unmap_reason")
            components.field_errors(problem, "reason")
            sure = st.checkbox(
                _("Yes, remove the order from {org}").format(
                    org=summary.org_name or summary.org_id
                ),
                key="unmap_confirm",
            )
            if st.form_submit_button(_("Reverse the mapping"), key="unmap_submit"):
                if not sure:
                    st.error(_("Tick the confirmation first."))
                else:
                    operations.perform(
                        "unmap",
                        orders.unmap,
                        view.order_id,
                        reason,
                        done=_("The mapping was reversed."),
                    )


def self_setup_step(view: operations.OrderView) -> None:
    """ "My customer will set up their own services" (a partner acting for a customer)."""
    summary = view.summary
    open_services = [s for s in summary.services if s.state != ServiceState.PROVISIONED]
    if summary.intent != Intent.CUSTOMER or not open_services:
        return
    with st.expander(_("My customer will set up their own services")):
        st.caption(
            _(
                "The customer's administrator gets an e-mail to continue; you keep your "
                "access to the customer's organization."
            )
        )
        problem = operations.refusal("self_setup")
        components.refusal_summary(problem, placed=("admin_email",))
        with st.form("self_setup_form", border=False):
            email = st.text_input(_("Customer administrator's e-mail"), key="self_setup_email")
            components.field_errors(problem, "admin_email")
            if st.form_submit_button(_("Hand the setup to the customer"), key="self_setup_submit"):
                operations.perform(
                    "self_setup",
                    orders.hand_to_customer,
                    view.order_id,
                    email,
                    done=_("An e-mail went to {email} to set up the services.").format(
                        email=email.strip()
                    ),
                )


def service_intro(service: ServiceSummary) -> None:
    """Step 1 of each service: review the subscription."""
    components.service_status([service])
    notes = [_("{count} licences").format(count=fmt_number(service.licences))]
    if service.trial_conversion:
        notes.append(_("converts a running trial"))
    if service.addon:
        notes.append(_("add-on"))
    st.caption(" · ".join(notes))
    if service.state == ServiceState.CONFIGURE_LATER:
        st.info(_("Left for later. Set it up below whenever you are ready."))
    elif service.state == ServiceState.CUSTOMER_SELF_SETUP:
        st.info(_("Handed to the customer. You can still set it up below."))


def later_button(view: operations.OrderView, service: ServiceSummary) -> None:
    """Configure later: the service stays not provisioned and can be resumed."""
    if ServiceState.CONFIGURE_LATER not in SERVICE_TRANSITIONS[ServiceState(service.state)]:
        return
    if st.button(_("Configure later"), key=f"{service.service}_later"):
        operations.perform(
            service.service,
            orders.configure_later,
            view.order_id,
            service.service,
            done=_("{service} will be configured later.").format(
                service=label(i18n.SERVICES, service.service)
            ),
        )
    st.caption(_("The service stays not provisioned; it can be set up later."))


def whole(value: object, default: int = 0) -> int:
    """A licence count from a draft (typed by a person earlier: may be anything)."""
    try:
        return max(0, int(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return default


def meetings_step(view: operations.OrderView, service: ServiceSummary) -> None:
    """Meetings: sites (URL name and licences), time zone, early release, user management."""
    summary = view.summary
    service_intro(service)
    if service.state == ServiceState.PROVISIONED:
        components.sites_table(service)
        return
    total = service.licences
    country = summary.country or summary.org_country
    zones = zones_for(country)
    draft = view.draft("meetings")
    drafted = list(draft.get("sites") or [])[:MAX_SITES]
    if "meetings_rows" not in st.session_state:
        st.session_state["meetings_rows"] = max(1, len(drafted))
    rows = st.session_state["meetings_rows"]
    for number in range(1, rows + 1):
        site = drafted[number - 1] if number <= len(drafted) else {}
        if f"meetings_site_name_{number}" not in st.session_state:
            name = str(site.get("name") or "")
            if not name and number == 1 and not drafted:
                viewer = ui.current_actor()
                free = operations.site_check(_url(), viewer, "", summary.company_name)
                name = next(iter(free["suggestions"]), "")
            st.session_state[f"meetings_site_name_{number}"] = name
        if f"meetings_site_licences_{number}" not in st.session_state:
            fallback = total if rows == 1 else 0
            st.session_state[f"meetings_site_licences_{number}"] = whole(
                site.get("licences"), fallback
            )
    if st.session_state.get("meetings_timezone") not in zones:
        drafted_zone = draft.get("timezone")
        st.session_state["meetings_timezone"] = (
            drafted_zone if drafted_zone in zones else default_timezone(country or "") or "UTC"
        )
    st.session_state.setdefault("meetings_early_release", bool(draft.get("early_release")))
    if st.session_state.get("meetings_users_managed_in") not in USERS_MANAGED_IN:
        drafted_place = draft.get("users_managed_in")
        st.session_state["meetings_users_managed_in"] = (
            drafted_place if drafted_place in USERS_MANAGED_IN else USERS_MANAGED_IN[0]
        )

    problem = operations.refusal("meetings")
    placed = {"sites", "licences", "timezone", "users_managed_in", "site"}
    placed |= {f"site[{n}].{part}" for n in range(1, rows + 1) for part in ("name", "licences")}
    components.refusal_summary(problem, placed=placed)

    st.markdown("**" + _("Webex sites") + "**")
    components.field_errors(problem, "sites")
    components.field_errors(problem, "site")
    sites: list[tuple[str, int]] = []
    for number in range(1, rows + 1):
        name_col, licences_col, check_col = st.columns([3, 1, 1], vertical_alignment="bottom")
        name, licences = site_inputs("meetings_", number, problem, name_col, licences_col)
        with check_col:
            if st.button(_("Check name"), key=f"meetings_site_check_{number}"):
                st.session_state.setdefault("meetings_checks", {})[number] = name
        checked = st.session_state.get("meetings_checks", {}).get(number)
        if checked is not None and checked == name:
            site_check_result(summary.company_name, number, name)
        sites.append((name, licences))

    add_col, remove_col = st.columns(2)
    if add_col.button(
        _("I need additional URLs"),
        key="meetings_add_site",
        icon=":material/add:",
        disabled=rows >= MAX_SITES,
    ):
        st.session_state["meetings_rows"] = rows + 1
        st.session_state[f"meetings_site_name_{rows + 1}"] = ""
        st.session_state[f"meetings_site_licences_{rows + 1}"] = 0
        st.rerun()
    if rows > 1 and remove_col.button(
        _("Remove the last site"), key="meetings_remove_site", icon=":material/remove:"
    ):
        st.session_state["meetings_rows"] = rows - 1
        for key in (f"meetings_site_name_{rows}", f"meetings_site_licences_{rows}"):
            st.session_state.pop(key, None)
        st.rerun()

    licences_distributed(sites, total, problem)

    timezone = st.selectbox(_("Time zone"), zones, key="meetings_timezone")
    components.field_errors(problem, "timezone")
    early_release = st.checkbox(
        _("Early release: the site gets new features before the normal schedule"),
        key="meetings_early_release",
        help=_("Fixed once the sites exist."),
    )
    users_managed_in = st.radio(
        _("Users managed in"),
        USERS_MANAGED_IN,
        key="meetings_users_managed_in",
        format_func=lambda place: label(i18n.USER_MANAGEMENT, place),
        horizontal=True,
    )
    components.field_errors(problem, "users_managed_in")

    save_col, draft_col, later_col = st.columns(3)
    if save_col.button(_("Set up Meetings"), key="meetings_save", type="primary"):
        operations.perform(
            "meetings",
            orders.set_up_meetings,
            view.order_id,
            sites,
            timezone,
            early_release=early_release,
            users_managed_in=users_managed_in,
            done=_("Webex Meetings is set up."),
        )
    if draft_col.button(_("Save draft"), key="meetings_save_draft"):
        operations.perform(
            "meetings",
            orders.save_draft,
            view.order_id,
            "meetings",
            {
                "sites": [{"name": name, "licences": count} for name, count in sites],
                "timezone": timezone,
                "early_release": early_release,
                "users_managed_in": users_managed_in,
            },
            done=_("Draft saved: the form reopens as you left it."),
        )
    with later_col:
        later_button(view, service)


def site_inputs(
    prefix: str,
    number: int,
    problem: operations.Refusal | None,
    name_col: DeltaGenerator,
    licences_col: DeltaGenerator,
) -> tuple[str, int]:
    """One site's URL name and licences, with the reasons a refusal gave for each (the
    operator's wizard, `prefix` "meetings_", and a contact's link page, "link_")."""
    with name_col:
        name = st.text_input(
            _("Webex site URL name (site {number})").format(number=number),
            key=f"{prefix}site_name_{number}",
            help=_("The site's address will be https://NAME.webex.com"),
        )
        components.field_errors(problem, f"site[{number}].name")
    with licences_col:
        licences = st.number_input(
            _("Licences (site {number})").format(number=number),
            min_value=0,
            step=1,
            key=f"{prefix}site_licences_{number}",
        )
        components.field_errors(problem, f"site[{number}].licences")
    return name, int(licences or 0)


def licences_distributed(
    sites: list[tuple[str, int]], total: int, problem: operations.Refusal | None
) -> None:
    """The live sum of the sites' licences against the order's: they must add up."""
    given = sum(licences for _name, licences in sites)
    distributed = _("{given} of {total} licences distributed").format(
        given=fmt_number(given), total=fmt_number(total)
    )
    st.markdown(f":green[{distributed}]" if given == total else f":red[**{distributed}**]")
    components.field_errors(problem, "licences")


def use_name(number: int, name: str) -> None:
    """Callback of a suggestion: it becomes the site's name (before the widget redraws)."""
    st.session_state[f"meetings_site_name_{number}"] = name
    st.session_state.setdefault("meetings_checks", {})[number] = name


def site_check_result(company_name: str, number: int, name: str) -> None:
    result = operations.site_check(_url(), ui.current_actor(), name, company_name)
    if result["free"]:
        st.success(
            _("{name} is free: https://{name}.webex.com").format(name=result["name"]),
            icon=":material/check:",
        )
        return
    st.error(
        _("{name} cannot be used: {reasons}").format(
            name=result["name"] or name, reasons="; ".join(result["reasons"])
        )
    )
    if result["suggestions"]:
        st.caption(_("Free names:"))
        for column, suggestion in zip(
            st.columns(len(result["suggestions"])), result["suggestions"], strict=True
        ):
            column.button(
                suggestion,
                key=f"meetings_site_use_{number}_{suggestion}",
                on_click=use_name,
                args=(number, suggestion),
            )


def calling_step(view: operations.OrderView, service: ServiceSummary) -> None:
    """Calling: the main office location (more locations come after provisioning)."""
    summary = view.summary
    service_intro(service)
    if service.state == ServiceState.PROVISIONED:
        components.location_details(service)
        return
    problem = operations.refusal("calling")
    location, save, keep = location_form(
        "",
        summary.company_name,
        summary.country or summary.org_country,
        view.draft("calling"),
        problem,
    )
    if save:
        operations.perform(
            "calling",
            orders.set_up_calling,
            view.order_id,
            done=_("Webex Calling is set up."),
            **location,
        )
    if keep:
        operations.perform(
            "calling",
            orders.save_draft,
            view.order_id,
            "calling",
            location,
            done=_("Draft saved: the form reopens as you left it."),
        )
    later_button(view, service)


def location_form(
    prefix: str,
    company_name: str,
    country: str | None,
    draft: dict[str, Any],
    problem: operations.Refusal | None,
) -> tuple[dict[str, Any], bool, bool]:
    """The Calling main location's form, the same for an operator (`prefix` "") and for a
    contact's link page ("link_"): the defaults (the country's time zone and languages, a
    SIP address from the company name), then a saved draft, fill it; each refused field
    shows its reason under it. Returns the location as the service takes it, and whether
    it was submitted to set up or to keep as a draft."""
    lang = current_language()
    codes = components.country_codes()
    country = draft.get("country") or country
    defaults: dict[str, Any] = {
        "name": "",
        "country": country if country in codes else None,
        "timezone": COUNTRY_DEFAULT,
        "preferred_language": COUNTRY_DEFAULT,
        "announcement_language": COUNTRY_DEFAULT,
        "address_line1": "",
        "address_line2": "",
        "city": "",
        "postal_code": "",
        "state_code": "",
        "sip_address": default_sip_address(company_name) or "",
    }
    key = f"{prefix}calling_{{}}".format
    for field, default in defaults.items():
        drafted = draft.get(field)
        st.session_state.setdefault(key(field), default if drafted is None else drafted)
    zones = [COUNTRY_DEFAULT, *zones_for(country)]
    languages = [COUNTRY_DEFAULT, *CALLING_LANGUAGES]
    # A draft's choice no longer offered (another country's zone) falls back to the default.
    if st.session_state[key("timezone")] not in zones:
        st.session_state[key("timezone")] = COUNTRY_DEFAULT
    for field in ("preferred_language", "announcement_language"):
        if st.session_state[key(field)] not in languages:
            st.session_state[key(field)] = COUNTRY_DEFAULT
    if st.session_state[key("country")] not in codes:
        st.session_state[key("country")] = None
    components.refusal_summary(problem, placed=LOCATION_FIELDS)
    # Labels made now, in the page's language: a format function is also called later,
    # outside this run (AppTest reads widget values that way).
    countries = {code: components.country(code) for code in codes}
    own_zone = _("The country's time zone")
    language_names = {code: i18n.language_name(code, lang) or code for code in CALLING_LANGUAGES}
    language_names[COUNTRY_DEFAULT] = _("The country's language")

    with st.form(f"{prefix}calling_form"):
        st.markdown("**" + _("Main office location") + "**")
        name = st.text_input(_("Location name"), key=key("name"), max_chars=80)
        components.field_errors(problem, "name")
        country_col, zone_col = st.columns(2)
        with country_col:
            country_code = st.selectbox(
                _("Country or region where most users are"),
                codes,
                key=key("country"),
                index=None,
                format_func=countries.__getitem__,
            )
            components.field_errors(problem, "country")
        with zone_col:
            timezone = st.selectbox(
                _("Time zone"),
                zones,
                key=key("timezone"),
                format_func=lambda zone: own_zone if zone == COUNTRY_DEFAULT else zone,
            )
            components.field_errors(problem, "timezone")
        values: dict[str, Any] = {}
        for field, column in zip(
            ("preferred_language", "announcement_language"), st.columns(2), strict=True
        ):
            with column:
                values[field] = st.selectbox(
                    _(components.FIELDS[field]),
                    languages,
                    key=key(field),
                    format_func=language_names.__getitem__,
                )
                components.field_errors(problem, field)
        for field in ("address_line1", "address_line2", "city", "postal_code", "state_code"):
            values[field] = st.text_input(_(components.FIELDS[field]), key=key(field))
            components.field_errors(problem, field)
        sip = st.text_input(
            _("SIP address"), key=key("sip_address"), help=_("Pre-filled from the company name.")
        )
        components.field_errors(problem, "sip_address")
        save = st.form_submit_button(_("Set up Calling"), key=key("save"), type="primary")
        keep = st.form_submit_button(_("Save draft"), key=key("save_draft"))
    location = {
        "name": name,
        "country": country_code or "",
        "timezone": timezone or None,  # COUNTRY_DEFAULT: the service picks the country's
        "preferred_language": values["preferred_language"] or None,
        "announcement_language": values["announcement_language"] or None,
        "address_line1": values["address_line1"],
        "address_line2": values["address_line2"].strip() or None,
        "city": values["city"],
        "postal_code": values["postal_code"],
        "state_code": values["state_code"].strip() or None,
        "sip_address": sip.strip() or None,
    }
    return location, save, keep


def setup_wizard(view: operations.OrderView) -> None:
    """Part 2: a step per service of the order, then the review with the summary PDF."""
    summary = view.summary
    st.subheader(_("Service setup"))
    self_setup_step(view)
    services = list(summary.services)
    tabs = st.tabs([label(i18n.SERVICES, s.service) for s in services] + [_("Review and summary")])
    for tab, service in zip(tabs, services, strict=False):
        with tab:
            if service.service == "meetings":
                meetings_step(view, service)
            else:
                calling_step(view, service)
    with tabs[-1]:
        review_step(view)


def review_step(view: operations.OrderView) -> None:
    components.review(view.summary)
    lang = current_language()
    st.download_button(
        _("Download order summary (PDF)"),
        data=operations.summary_pdf(_url(), ui.current_actor(), view.order_id, lang),
        file_name=f"order-summary-{view.order_id}-{lang}.pdf",
        mime="application/pdf",
        key="order_pdf",
        icon=":material/download:",
        on_click="ignore",
    )


def zones_for(country: str | None) -> list[str]:
    """The country's time zones first (its default first), then every other zone."""
    own = timezones_for_country(country or "")
    return own + sorted(accepted_timezones() - set(own))
