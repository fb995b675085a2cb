"""Order: one order from "who is it for" to its order summary, as workflow.md walks it.

The page reads the order, shows what its state needs (intent, the organization finder,
the administrator's approval, the service setup wizard, the review) and hands each
decision to one service action through `operations.perform`. Refused input is shown next
to its field and nothing is saved; every decision lands in the order's history, which
the finder is trained on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pycountry
import streamlit as st

from dashboard import components, data, ui
from dashboard.data import operations
from dashboard.i18n import _, current_language, fmt_number, label
from provisioning import blind_review, i18n, orders
from provisioning.errors import NotFound, ProvisioningError
from provisioning.orders.workflow import SERVICE_TRANSITIONS
from provisioning.rules import (
    CALLING_LANGUAGES,
    INDUSTRY_VERTICALS,
    MAX_SITES,
    USERS_MANAGED_IN,
    accepted_timezones,
    default_sip_address,
    default_timezone,
    timezones_for_country,
)
from provisioning.states import Intent, OrderState, ServiceState
from provisioning.summary import ServiceSummary

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
VISIBLE_CANDIDATES = 3
# The choice "whatever suits the location's country" in the Calling form's selectboxes
# (None would show as no choice at all).
COUNTRY_DEFAULT = ""
LOCATION_FIELDS = (
    "name",
    "country",
    "timezone",
    "preferred_language",
    "announcement_language",
    "address_line1",
    "address_line2",
    "city",
    "postal_code",
    "state_code",
    "sip_address",
)

db = data.current_database()
url = db.url


def country_codes() -> list[str]:
    """Every ISO country, in the reader's alphabetical order."""
    return sorted(
        (c.alpha_2 for c in pycountry.countries), key=lambda code: components.country(code)
    )


def zones_for(country: str | None) -> list[str]:
    """The country's time zones first (its default first), then every other zone."""
    own = timezones_for_country(country or "")
    return own + sorted(accepted_timezones() - set(own))


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


def delegate_step(view: operations.OrderView) -> None:
    with st.expander(_("Delegate to someone else")):
        problem = operations.refusal("delegate")
        components.refusal_summary(problem, placed=("email",))
        with st.form("delegate_form", border=False):
            email = st.text_input(
                _("E-mail of the person who completes the order"), key="delegate_email"
            )
            components.field_errors(problem, "email")
            if st.form_submit_button(_("Delegate"), key="delegate_submit"):
                operations.perform(
                    "delegate",
                    orders.set_intent,
                    view.order_id,
                    Intent.DELEGATE.value,
                    email=email.strip() or None,
                    done=_("Delegated: an e-mail went to {email}.").format(email=email.strip()),
                )


# --- the organization finder ------------------------------------------------------------


def remember_blind_pick(order_id: str, org_id: str | None) -> Callable[[object], None]:
    """After the pick is stored: this session may reveal the finder's pick beside it."""

    def remember(_recorded: object) -> None:
        st.session_state.setdefault("blind_picks", {})[order_id] = org_id

    return remember


def finder_step(view: operations.OrderView, actor: str | None) -> None:
    summary = view.summary
    st.subheader(_("Organization finder"))
    try:
        match = operations.match_view(url, summary.order_id, summary.partner_name)
    except ProvisioningError as exc:
        ui.show_error(exc)
        return
    components.outcome_sentence(match.outcome)
    components.email_note(match)
    components.refusal_summary(operations.refusal("finder"))
    blind = operations.is_blind(summary.order_id) and not (
        actor and operations.blind_pick_made(url, summary.order_id, actor)
    )
    if blind:
        blind_candidates(view, match)
        org_search(view, blind=True)
        return
    picks = st.session_state.get("blind_picks", {})
    if summary.order_id in picks:
        blind_reveal(match, picks[summary.order_id])
    elif operations.is_blind(summary.order_id):
        st.caption(_("You made your blind pick for this order earlier."))
    components.recommendation(match)
    st.caption(_("Your decision is recorded with the order and trains the organization finder."))
    shown = list(match.candidates)
    candidate_columns(view, match, shown[:VISIBLE_CANDIDATES])
    if shown[VISIBLE_CANDIDATES:]:
        more = len(shown) - VISIBLE_CANDIDATES
        with st.expander(_("More candidates ({count})").format(count=more)):
            candidate_columns(view, match, shown[VISIBLE_CANDIDATES:])
    org_search(view, blind=False)
    create_org_step(view, expanded=match.recommended is None)
    delegate_step(view)


def candidate_columns(
    view: operations.OrderView,
    match: operations.MatchView,
    group: list[operations.CandidateView],
) -> None:
    for column, candidate in zip(st.columns(VISIBLE_CANDIDATES), group, strict=False):
        with column:
            card = components.candidate_card(
                candidate,
                match.domain,
                blind=False,
                recommended=candidate.org_id == match.recommended_org_id,
            )
            if card.button(
                _("Choose this organization"),
                key=f"finder_choose_{candidate.org_id}",
                type="primary" if candidate.org_id == match.recommended_org_id else "secondary",
                width="stretch",
            ):
                map_to(view, candidate.org_id, candidate.name)
    rest = group[VISIBLE_CANDIDATES:]
    if rest:
        candidate_columns(view, match, rest)


def map_to(view: operations.OrderView, org_id: str, name: str) -> None:
    operations.perform(
        "finder",
        orders.map_org,
        view.order_id,
        org_id,
        done=_("Mapped to {name}.").format(name=name),
    )


def blind_candidates(view: operations.OrderView, match: operations.MatchView) -> None:
    """A blind review: the candidates by name, no score, no recommendation; the operator
    decides first, and only then sees the model's pick."""
    st.info(
        _(
            "Blind review: this order is in the sample where you decide before you see the "
            "finder's pick. Choose the right organization, or say a new one is needed."
        ),
        icon=":material/visibility_off:",
    )
    neutral = sorted(match.candidates, key=lambda c: (c.name.casefold(), c.org_id))
    for start in range(0, len(neutral), VISIBLE_CANDIDATES):
        row = neutral[start : start + VISIBLE_CANDIDATES]
        for column, candidate in zip(st.columns(VISIBLE_CANDIDATES), row, strict=False):
            with column:
                card = components.candidate_card(
                    candidate, match.domain, blind=True, recommended=False
                )
                if card.button(
                    _("This is the right organization"),
                    key=f"blind_pick_{candidate.org_id}",
                    width="stretch",
                ):
                    blind_pick(view, candidate.org_id)
    if st.button(_("None of these: a new organization is needed"), key="blind_pick_new"):
        blind_pick(view, None)


def blind_pick(view: operations.OrderView, org_id: str | None) -> None:
    operations.perform(
        "finder",
        blind_review.record,
        view.order_id,
        chosen_org_id=org_id,
        done=_("Your pick is recorded. Here is the finder's recommendation."),
        on_success=remember_blind_pick(view.order_id, org_id),
    )


def blind_reveal(match: operations.MatchView, picked: str | None) -> None:
    names = {c.org_id: c.name for c in match.candidates}
    yours = names.get(picked, picked) if picked else _("a new organization")
    model = match.recommended.name if match.recommended else _("a new organization")
    text = _("Your blind pick: {yours}. The finder's pick: {model}.").format(
        yours=yours, model=model
    )
    if picked == match.recommended_org_id:
        st.success(text + " " + _("You agree."), icon=":material/handshake:")
    else:
        st.warning(
            text + " " + _("You disagree: check the evidence before you decide."),
            icon=":material/compare_arrows:",
        )


def org_search(view: operations.OrderView, *, blind: bool) -> None:
    """Search all organizations: by id, someone's e-mail, a domain or a name."""
    summary = view.summary
    with st.expander(
        _("Search all organizations"), expanded=bool(st.session_state.get("org_search_text"))
    ):
        text = st.text_input(
            _("Organization ID, e-mail, domain or name"),
            key="org_search_text",
            placeholder="acme.se",
        )
        only_country = False
        if summary.country:
            only_country = st.checkbox(
                _("Only in {country}").format(country=components.country(summary.country)),
                key="org_search_only_country",
            )
        if not text.strip():
            return
        hits = operations.search_orgs(url, text.strip(), summary.country if only_country else None)
        if not hits:
            st.info(_("No organization matches."))
        for hit in hits:
            with st.container(border=True):
                facts_col, button_col = st.columns([4, 1], vertical_alignment="center")
                facts_col.markdown(f"**{hit.name}** · `{hit.org_id}`")
                facts_col.caption(components.org_hit_facts(hit))
                if button_col.button(
                    _("This is the right organization") if blind else _("Choose"),
                    key=f"org_search_pick_{hit.org_id}",
                ):
                    if blind:
                        blind_pick(view, hit.org_id)
                    else:
                        map_to(view, hit.org_id, hit.name)


def create_org_step(view: operations.OrderView, *, expanded: bool) -> None:
    """No existing org is right: create one (company name, industry, country)."""
    summary = view.summary
    with st.expander(_("Create a new organization"), expanded=expanded):
        problem = operations.refusal("create_org")
        components.refusal_summary(problem, placed=("name", "industry", "country"))
        codes = country_codes()
        st.session_state.setdefault("create_org_name", summary.company_name)
        if summary.country in codes:
            st.session_state.setdefault("create_org_country", summary.country)
        with st.form("create_org_form", border=False):
            name = st.text_input(_("Company name"), key="create_org_name", max_chars=255)
            components.field_errors(problem, "name")
            industry = st.selectbox(
                _("Industry"),
                INDUSTRY_VERTICALS,
                index=None,
                key="create_org_industry",
                placeholder=_("Choose an industry"),
                format_func=lambda v: (
                    _(components.INDUSTRIES[v]) if v in components.INDUSTRIES else v
                ),
            )
            components.field_errors(problem, "industry")
            country = st.selectbox(
                _("Country or region"),
                codes,
                index=None,
                key="create_org_country",
                format_func=components.country,
            )
            components.field_errors(problem, "country")
            if st.form_submit_button(
                _("Create the organization and map the order"),
                key="create_org_submit",
                type="primary",
            ):
                operations.perform(
                    "create_org",
                    orders.create_org,
                    summary.order_id,
                    name,
                    industry or "",
                    country or "",
                    done=_("Created {name} and mapped the order to it.").format(name=name),
                )


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
                free = operations.site_check(url, "", summary.company_name)["suggestions"]
                name = free[0] if free else ""
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
        with name_col:
            name = st.text_input(
                _("Webex site URL name (site {number})").format(number=number),
                key=f"meetings_site_name_{number}",
                help=_("The site's address will be https://NAME.webex.com"),
            )
            components.field_errors(problem, f"site[{number}].name")
        with licences_col:
            licences = st.number_input(
                _("Licences (site {number})").format(number=number),
                min_value=0,
                step=1,
                key=f"meetings_site_licences_{number}",
            )
            components.field_errors(problem, f"site[{number}].licences")
        with check_col:
            if st.button(_("Check name"), key=f"meetings_site_check_{number}"):
                st.session_state.setdefault("meetings_checks", {})[number] = name
        checked = st.session_state.get("meetings_checks", {}).get(number)
        if checked is not None and checked == name:
            site_check_result(summary.company_name, number, name)
        sites.append((name, int(licences or 0)))

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

    given = sum(licences for _name, licences in sites)
    distributed = _("{given} of {total} licences distributed").format(
        given=fmt_number(given), total=fmt_number(total)
    )
    st.markdown(f":green[{distributed}]" if given == total else f":red[**{distributed}**]")
    components.field_errors(problem, "licences")

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


def use_name(number: int, name: str) -> None:
    """Callback of a suggestion: it becomes the site's name (before the widget redraws)."""
    st.session_state[f"meetings_site_name_{number}"] = name
    st.session_state.setdefault("meetings_checks", {})[number] = name


def site_check_result(company_name: str, number: int, name: str) -> None:
    result = operations.site_check(url, name, company_name)
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
    lang = current_language()
    draft = view.draft("calling")
    codes = country_codes()
    country = draft.get("country") or summary.country or summary.org_country
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
        "sip_address": default_sip_address(summary.company_name) or "",
    }
    for field, default in defaults.items():
        drafted = draft.get(field)
        st.session_state.setdefault(f"calling_{field}", default if drafted is None else drafted)
    zones = [COUNTRY_DEFAULT, *zones_for(country)]
    if st.session_state["calling_timezone"] not in zones:
        st.session_state["calling_timezone"] = COUNTRY_DEFAULT
    languages = [COUNTRY_DEFAULT, *CALLING_LANGUAGES]
    for field in ("preferred_language", "announcement_language"):
        if st.session_state[f"calling_{field}"] not in languages:
            st.session_state[f"calling_{field}"] = COUNTRY_DEFAULT

    problem = operations.refusal("calling")
    components.refusal_summary(problem, placed=LOCATION_FIELDS)

    def language(code: str) -> str:
        if code == COUNTRY_DEFAULT:
            return _("The country's language")
        return i18n.language_name(code, lang) or code

    with st.form("calling_form"):
        st.markdown("**" + _("Main office location") + "**")
        name = st.text_input(_("Location name"), key="calling_name", max_chars=80)
        components.field_errors(problem, "name")
        country_col, zone_col = st.columns(2)
        with country_col:
            country_code = st.selectbox(
                _("Country or region where most users are"),
                codes,
                key="calling_country",
                index=None,
                format_func=components.country,
            )
            components.field_errors(problem, "country")
        with zone_col:
            timezone = st.selectbox(
                _("Time zone"),
                zones,
                key="calling_timezone",
                format_func=lambda zone: (
                    _("The country's time zone") if zone == COUNTRY_DEFAULT else zone
                ),
            )
            components.field_errors(problem, "timezone")
        preferred_col, announcement_col = st.columns(2)
        with preferred_col:
            preferred = st.selectbox(
                _("Preferred language"),
                languages,
                key="calling_preferred_language",
                format_func=language,
            )
            components.field_errors(problem, "preferred_language")
        with announcement_col:
            announcement = st.selectbox(
                _("Announcement language"),
                languages,
                key="calling_announcement_language",
                format_func=language,
            )
            components.field_errors(problem, "announcement_language")
        values: dict[str, Any] = {}
        for field in ("address_line1", "address_line2", "city", "postal_code", "state_code"):
            values[field] = st.text_input(_(components.FIELDS[field]), key=f"calling_{field}")
            components.field_errors(problem, field)
        sip = st.text_input(
            _("SIP address"),
            key="calling_sip_address",
            help=_("Pre-filled from the company name."),
        )
        components.field_errors(problem, "sip_address")
        save = st.form_submit_button(_("Set up Calling"), key="calling_save", type="primary")
        keep = st.form_submit_button(_("Save draft"), key="calling_save_draft")
    location = {
        "name": name,
        "country": country_code or "",
        "timezone": timezone or None,  # COUNTRY_DEFAULT: the service picks the country's
        "preferred_language": preferred or None,
        "announcement_language": announcement or None,
        "address_line1": values["address_line1"],
        "address_line2": values["address_line2"].strip() or None,
        "city": values["city"],
        "postal_code": values["postal_code"],
        "state_code": values["state_code"].strip() or None,
        "sip_address": sip.strip() or None,
    }
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
        data=operations.summary_pdf(view.order_id, lang),
        file_name=f"order-summary-{view.order_id}-{lang}.pdf",
        mime="application/pdf",
        key="order_pdf",
        icon=":material/download:",
        on_click="ignore",
    )


# --- the page ---------------------------------------------------------------------------

order_id = open_order()
forget_other_orders_forms(order_id)
try:
    view = operations.order_view(url, order_id, data.settings().setup_deadline_days)
except NotFound:
    st.title(_("Order"))
    st.error(_("There is no order {order}.").format(order=order_id))
    st.page_link("views/queue.py", label=_("Back to the queue"), icon=":material/inbox:")
    st.stop()

st.page_link("views/queue.py", label=_("Back to the queue"), icon=":material/arrow_back:")
components.order_header(view)
components.flash(operations.take_flash())
actor = ui.current_actor()
components.licence_summary(view.summary.lines)
state = OrderState(view.state)
if state in (OrderState.AWAITING_INTENT, OrderState.DELEGATED):
    intent_step(view)
    email_step(view)
elif state is OrderState.AWAITING_ORG:
    finder_step(view, actor)
    email_step(view)
elif state is OrderState.AWAITING_APPROVAL:
    approval_step(view)
    unmap_step(view)
    review_step(view)
elif state is OrderState.ORG_MAPPED:
    setup_wizard(view)
    unmap_step(view)
else:
    st.info(
        _("This order is closed ({state}); here is what it set up.").format(
            state=label(i18n.ORDER_STATES, view.state)
        )
    )
    review_step(view)
components.history(view.summary)
