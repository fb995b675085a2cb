"""Pieces the operations pages draw: plain data in, Streamlit elements out.

Nothing here calls the service layer or decides anything about the workflow: a component
gets values (a candidate, an order summary, a refusal) and shows them in the reader's
language, so the queue and the order page stay short and look alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
import pycountry
import streamlit as st
from babel.numbers import format_percent
from streamlit.delta_generator import DeltaGenerator

from dashboard.data.operations import OrderView, Refusal
from dashboard.i18n import _, current_language, fmt_date, fmt_datetime, fmt_number, label
from matching.explain import Fact
from provisioning import audit, i18n
from provisioning.finder.for_viewer import CandidateView, Doubt, MatchView
from provisioning.finder.org_search import OrgHit
from provisioning.i18n import (
    DOMAIN_STATUSES,
    FEATURES,
    N_,
    ORG_STATUSES,
    OUTCOME_SENTENCES,
    OUTCOMES,
    REVIEWS,
)
from provisioning.i18n.formatting import babel_locale
from provisioning.orders.queue import QueueRow
from provisioning.orders.summary import LicenceLine, OrderSummary, ServiceSummary

# Fields the service layer names in a refusal, as the form labels them.
FIELDS: Mapping[str, str] = {
    "intent": N_("Who the order is for"),
    "email": N_("E-mail"),
    "admin_email": N_("Administrator's e-mail"),
    "org": N_("Organization"),
    "name": N_("Name"),
    "industry": N_("Industry"),
    "country": N_("Country or region"),
    "reason": N_("Reason"),
    "sites": N_("Sites"),
    "site": N_("Site URL name"),
    "licences": N_("Licences"),
    "timezone": N_("Time zone"),
    "users_managed_in": N_("Users managed in"),
    "preferred_language": N_("Preferred language"),
    "announcement_language": N_("Announcement language"),
    "address_line1": N_("Address line 1"),
    "address_line2": N_("Address line 2"),
    "city": N_("City"),
    "postal_code": N_("Postal code"),
    "state_code": N_("State, province or region"),
    "sip_address": N_("SIP address"),
    "service": N_("Service"),
}


def fmt_percent(value: float | None) -> str:
    """`72%` / `72 %`: a probability as the reader's language writes a percentage."""
    if value is None:
        return ""
    return format_percent(value, locale=babel_locale(current_language()))


def country(code: str | None) -> str:
    return i18n.country_name(code, current_language()) or ""


def flash(message: str | None) -> None:
    """The result of the last action, shown once at the top of the page after its rerun."""
    if message:
        st.success(message, icon=":material/check_circle:")


# --- refusals ---------------------------------------------------------------------------


def field_label(field: str) -> str:
    """`site[2].licences` -> "Site 2: Licences"; a field we do not know is shown as named."""
    head, _sep, tail = field.partition("[")
    if tail and "]" in tail:
        number, _close, rest = tail.partition("]")
        inner = rest.lstrip(".")
        what = _(FIELDS[inner]) if inner in FIELDS else inner
        return _("Site {number}: {what}").format(number=number, what=what)
    return _(FIELDS[head]) if head in FIELDS else field


def field_errors(refusal: Refusal | None, field: str) -> None:
    """The reasons a refused action gave for one field, right below that field."""
    if refusal is None:
        return
    for name, reason in refusal.fields:
        if name == field:
            st.error(reason, icon=":material/error:")


def refusal_summary(refusal: Refusal | None, placed: Iterable[str] = ()) -> None:
    """Above a form: that nothing was saved, and every reason not shown next to a field."""
    if refusal is None:
        return
    shown = set(placed)
    if not refusal.fields:
        st.error(refusal.message, icon=":material/block:")
        return
    st.error(_("Nothing was saved. Correct the fields marked below."), icon=":material/block:")
    for name, reason in refusal.fields:
        if name not in shown:
            st.error(f"**{field_label(name)}**: {reason}")


# --- the order --------------------------------------------------------------------------


def fact(name: str, value: str) -> str:
    """A bold heading over its value, as one markdown block."""
    return f"**{name}**  \n{value}"


def order_header(view: OrderView) -> None:
    """Who bought what, where the order stands and how long it has left."""
    summary, detail = view.summary, view.detail
    st.title(summary.company_name)
    st.caption(
        _("Order {order} · placed {date} · {days} days ago").format(
            order=summary.order_id,
            date=fmt_date(summary.placed_at),
            days=fmt_number(view.age_days),
        )
    )
    left, middle, right = st.columns(3)
    left.markdown(fact(_("State"), label(i18n.ORDER_STATES, summary.state)))
    contact = summary.provisioning_email
    if summary.partner_id:
        partner = _("Partner: {partner}").format(partner=summary.partner_name or summary.partner_id)
        contact += f"  \n{partner}"
    middle.markdown(fact(_("Provisioning e-mail"), contact))
    right.markdown(fact(_("Deadline"), fmt_date(detail["deadline"])))
    if detail["at_risk"]:
        st.warning(_("At risk: the order is close to its deadline."), icon=":material/alarm:")
    if summary.org_id:
        role = label(i18n.PARTNER_ROLES, summary.partner_role) if summary.partner_role else ""
        st.markdown(
            _("Organization: **{name}** ({org})").format(
                name=summary.org_name or summary.org_id, org=summary.org_id
            )
            + (f" · {role}" if role else "")
            + (f" · {label(i18n.DECISIONS, summary.decision)}" if summary.decision else "")
        )


def licence_summary(lines: Sequence[LicenceLine]) -> None:
    """The summary of licence changes the setup starts with (workflow.md, big picture)."""
    st.subheader(_("Summary of licence changes"))
    if not lines:
        st.info(_("This order has no licence lines."))
        return
    frame = pd.DataFrame(
        [
            {
                _("Service"): label(i18n.SERVICES, line.service),
                _("Licences"): fmt_number(line.quantity),
                _("Trial conversion"): _("Yes") if line.is_trial_conversion else _("No"),
                _("Add-on"): _("Yes") if line.is_addon else _("No"),
            }
            for line in lines
        ]
    )
    st.dataframe(frame, hide_index=True, width="stretch")


def outcome_sentence(outcome: str) -> None:
    """The finder's outcome as the seed says it to the buyer."""
    sentence = _(OUTCOME_SENTENCES[outcome]) if outcome in OUTCOME_SENTENCES else outcome
    if outcome == "exact":
        st.success(sentence, icon=":material/verified:")
    elif outcome == "domain":
        st.info(sentence, icon=":material/domain:")
    else:
        st.warning(sentence, icon=":material/search_off:")


def email_note(match: MatchView) -> None:
    """What the provisioning e-mail can tell: its domain, or why it tells nothing."""
    if match.free_mail and match.domain:
        st.caption(
            _(
                "{domain} is a free mail service: the address says nothing about the organization."
            ).format(domain=match.domain)
        )
    elif match.partner_own_address:
        st.caption(
            _(
                "The partner typed an address of its own: it says nothing about the "
                "customer's organization."
            )
        )
    elif match.domain and match.host and match.host != match.domain:
        st.caption(
            _("E-mail domain: {domain} (the address is on its subdomain {host})").format(
                domain=match.domain, host=match.host
            )
        )
    elif match.domain:
        st.caption(_("E-mail domain: {domain}").format(domain=match.domain))


def recommendation(match: MatchView) -> None:
    """What the finder recommends, how sure it is, and why the first beat the second."""
    if match.withheld:
        st.info(_("No recommendation: decide from the organizations below."))
        return
    best = match.recommended
    if best is not None:
        st.markdown(
            _("Recommended: **{name}** ({org}), confidence {confidence}").format(
                name=best.name, org=best.org_id, confidence=fmt_percent(match.confidence)
            )
        )
    else:
        st.markdown(
            _("Recommended: **create a new organization** (probability {p})").format(
                p=fmt_percent(match.p_new_org)
            )
        )
    st.caption(
        " · ".join(
            (
                _(REVIEWS[match.review]) if match.review in REVIEWS else match.review,
                _("Probability that no candidate is right: {p}").format(
                    p=fmt_percent(match.p_new_org)
                ),
            )
        )
    )
    if match.why_first:
        st.caption(_("Why the first one: {why}").format(why=match.why_first))
    doubts(match)


def doubts(match: MatchView) -> None:
    """Why the confidence is lower than the model's own probability: the guard rails as
    warnings (they keep the answer from being applied on its own), the rest as captions."""
    if not match.doubts:
        return
    if match.model_confidence is not None:
        st.caption(
            _("The model alone gives its answer {p}; the confidence is lowered because:").format(
                p=fmt_percent(match.model_confidence)
            )
        )
    for doubt in match.doubts:
        limit = fmt_percent(doubt.limit)
        if doubt.kind == "guard_rail":
            st.warning(_guard_rail_text(doubt))
        elif doubt.kind == "agreement":
            st.caption(
                _("The models of the ensemble disagree: one gives this answer only {p}.").format(
                    p=limit
                )
            )
        else:
            st.caption(
                _(
                    "Unlike the training data: {n} orders had a right answer like this one, "
                    "which allows at most {p}."
                ).format(n=fmt_number(doubt.support or 0), p=limit)
            )


def _guard_rail_text(doubt: Doubt) -> str:
    org = doubt.org_name or _("an organization")
    if doubt.rule == "exact_email":
        return _(
            "Held back for review: the provisioning e-mail is a user of {org}, and an exact "
            "e-mail match is not overruled without review."
        ).format(org=org)
    if doubt.rule == "live_trial_member":
        return _(
            "Held back for review: the provisioning e-mail belongs to the running trial {org}; "
            "the customer's trial would be lost."
        ).format(org=org)
    return _(
        "Held back for review: the order converts a running trial, and the answer is not a "
        "running trial."
    )


def evidence(candidate: CandidateView) -> list[str]:
    """The facts an operator checks (workflow.md step 3), in the reader's language: the
    finder's own facts (`matching.explain.facts`), worded here."""
    return [_fact(fact, candidate) for fact in candidate.facts]


def _fact(fact: Fact, candidate: CandidateView) -> str:
    value, detail = fact.value, fact.detail
    match fact.kind:
        case "holds_email":
            return _("The provisioning e-mail is one of its users")
        case "domain":
            status = _(DOMAIN_STATUSES[detail]) if detail in DOMAIN_STATUSES else detail
            return _("Domain {domain}: {status}").format(domain=value, status=status)
        case "subdomain":
            return _("The e-mail is on {host}, a subdomain of {domain}").format(
                host=value, domain=detail
            )
        case "members_on_domain":
            return _("No domain added; {count} users on {domain}").format(
                count=fmt_number(value), domain=detail
            )
        case "active_members":
            return _("{active} active of {members} users").format(
                active=fmt_number(value), members=fmt_number(detail)
            )
        case "last_activity":
            if value is None:
                return _("No user has ever been active")
            return _("Last activity {date}").format(date=fmt_date(value))
        case "status":
            status = _(ORG_STATUSES[value]) if value in ORG_STATUSES else value
            return _("Status: {status} · created {date}").format(
                status=status, date=fmt_date(detail)
            )
        case "partner":
            partner = candidate.partner_name or detail
            if value == "ordering_partner":
                return _("This is the ordering partner's own organization")
            if value == "managed_by_ordering_partner":
                return _("Managed by the ordering partner, {partner}").format(partner=partner)
            if value == "other":
                return _("Managed by partner {partner}").format(partner=partner)
            return _("No managing partner")
        case "name_similarity":
            return _('Name {share} similar to "{company}"').format(
                share=fmt_percent(value), company=detail
            )
        case "country":
            if detail and detail != value:
                return _("Country: {country}, but the order is for {order}").format(
                    country=country(value), order=country(detail)
                )
            return _("Country: {country}").format(country=country(value))
    return fact.kind


def candidate_card(
    candidate: CandidateView, domain: str | None, *, blind: bool, recommended: bool
) -> DeltaGenerator:
    """One candidate: name, id, score and evidence; the reasons in an expander. In a blind
    review the score and the reasons are left out, so nothing hints at the model's pick.
    Returns the card, so the page can put its decision button inside it."""
    card = st.container(border=True)
    with card:
        title = f"**{candidate.name}**"
        if recommended and not blind:
            title += " · :green[" + _("recommended") + "]"
        st.markdown(title)
        st.caption(candidate.org_id)
        if not blind:
            st.metric(_("Score"), fmt_percent(candidate.score))
        st.markdown("\n".join(f"- {fact}" for fact in evidence(candidate)))
        if not blind and candidate.reasons:
            with st.expander(_("Reasons")):
                st.dataframe(
                    pd.DataFrame(
                        [
                            {
                                _("Evidence"): _(FEATURES[r.feature])
                                if r.feature in FEATURES
                                else r.feature,
                                _("Value"): r.value,
                                _("Pull on the score"): r.contribution,
                            }
                            for r in candidate.reasons
                        ]
                    ),
                    hide_index=True,
                    width="stretch",
                )
                st.caption(_("Positive values raise the score, negative lower it (log-odds)."))
    return card


# --- services and the review ------------------------------------------------------------


def service_status(services: Sequence[ServiceSummary]) -> None:
    """Each service of the order and where it stands."""
    for service in services:
        provisioned = f" · {fmt_datetime(service.provisioned_at)}" if service.provisioned_at else ""
        st.markdown(
            f"**{label(i18n.SERVICES, service.service)}** — "
            f"{label(i18n.SERVICE_STATES, service.state)}{provisioned}"
        )


def sites_table(service: ServiceSummary) -> None:
    if not service.sites:
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    _("Site"): site.url,
                    _("Licences"): fmt_number(site.licences),
                    _("Time zone"): site.timezone,
                    _("Early release"): _("Yes") if site.early_release else _("No"),
                    _("Users managed in"): label(i18n.USER_MANAGEMENT, site.users_managed_in),
                }
                for site in service.sites
            ]
        ),
        hide_index=True,
        width="stretch",
    )


def location_details(service: ServiceSummary) -> None:
    main = service.location
    if main is None:
        return
    lang = current_language()
    address = ", ".join(
        part
        for part in (
            main.address_line1,
            main.address_line2,
            f"{main.postal_code} {main.city}",
            main.state_code,
            country(main.country),
        )
        if part
    )
    rows = (
        (_("Main location"), main.name),
        (_("Address"), address),
        (_("Time zone"), main.timezone),
        (_("Preferred language"), i18n.language_name(main.preferred_language, lang)),
        (_("Announcement language"), i18n.language_name(main.announcement_language, lang)),
        (_("SIP address"), main.sip_address or "—"),
    )
    st.markdown("\n".join(f"- **{name}**: {value}" for name, value in rows))


def review(summary: OrderSummary) -> None:
    """The final review: every service's state, its sites and its main location."""
    st.subheader(_("Review"))
    if summary.customer_admin_email:
        st.caption(
            _("The customer's administrator {email} was asked to set up the services.").format(
                email=summary.customer_admin_email
            )
        )
    for service in summary.services:
        with st.container(border=True):
            service_status([service])
            if service.service == "meetings":
                sites_table(service)
            else:
                location_details(service)


def history(summary: OrderSummary) -> None:
    """Who did what to the order, newest last (the audit trail)."""
    if not summary.history:
        return
    linked = [entry for entry in summary.history if entry.through_link]
    if linked:
        last = linked[-1]
        st.caption(
            _("Last acted on through an e-mail link by {who} ({role}) on {when}.").format(
                who=last.actor, role=label(audit.ROLES, last.role), when=fmt_datetime(last.at)
            )
        )
    with st.expander(_("History ({count})").format(count=len(summary.history))):
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        _("When"): fmt_datetime(entry.at),
                        _("Who"): entry.actor,
                        _("As"): label(audit.ROLES, entry.role) if entry.role else "",
                        _("What"): label(i18n.AUDIT_ACTIONS, entry.action),
                    }
                    for entry in summary.history
                ]
            ),
            hide_index=True,
            width="stretch",
        )


def org_hit_facts(hit: OrgHit) -> str:
    """One line of facts about an org found by "search all organizations"."""
    domains = []
    for text in hit.domains:  # "acme.se (claimed)"
        name, _sep, status = text.rpartition(" (")
        status = status.rstrip(")")
        shown = _(DOMAIN_STATUSES[status]) if status in DOMAIN_STATUSES else status
        domains.append(f"{name} ({shown})" if name else text)
    parts = [
        country(hit.country) or "—",
        _(ORG_STATUSES[hit.status]) if hit.status in ORG_STATUSES else hit.status,
        _("{active} active of {members} users").format(
            active=fmt_number(hit.active_members), members=fmt_number(hit.members)
        ),
        ", ".join(domains) or _("no domain"),
        _("Last activity {date}").format(date=fmt_date(hit.last_activity_at))
        if hit.last_activity_at
        else _("No user has ever been active"),
    ]
    if hit.partner_id:
        parts.append(_("Managed by partner {partner}").format(partner=hit.partner_id))
    return " · ".join(parts)


def queue_frame(rows: Sequence[QueueRow]) -> pd.DataFrame:
    """The queue's rows as the table shows them: labels in the reader's language."""
    records = []
    for row in rows:
        records.append(
            {
                "order_id": row.order_id,
                "age": row.age_days,
                "state": label(i18n.ORDER_STATES, row.state),
                "waiting_on": label(i18n.WAITING_ON, row.waiting_on),
                "company": row.company_name,
                "email": row.provisioning_email,
                "country": country(row.country),
                "partner": row.partner_name or row.partner_id or "",
                "services": ", ".join(label(i18n.SERVICES, s) for s in row.services),
                "outcome": _(OUTCOMES[row.outcome]) if row.outcome in OUTCOMES else "",
                "recommended": row.recommended_org_name or row.recommended_org_id or "",
                "confidence": None if row.confidence is None else row.confidence * 100,
                "review": _(REVIEWS[row.review]) if row.review in REVIEWS else "",
                "at_risk": bool(row.at_risk),
                "org": row.org_name or row.org_id or "",
            }
        )
    columns = [  # what decides the order of the queue first, the details after
        "order_id",
        "age",
        "review",
        "confidence",
        "recommended",
        "outcome",
        "company",
        "state",
        "waiting_on",
        "email",
        "country",
        "partner",
        "services",
        "at_risk",
        "org",
    ]
    return pd.DataFrame.from_records(records, columns=columns)


def queue_columns() -> dict[str, object]:
    """Column headings (and formats) of the queue table, in the reader's language."""
    return {
        "order_id": st.column_config.TextColumn(_("Order")),
        "age": st.column_config.NumberColumn(_("Age (days)"), format="%d"),
        "state": st.column_config.TextColumn(_("State")),
        "waiting_on": st.column_config.TextColumn(
            _("Waiting on"), help=_("Whose move it is: the customer's side or support's.")
        ),
        "company": st.column_config.TextColumn(_("Company")),
        "email": st.column_config.TextColumn(_("Provisioning e-mail")),
        "country": st.column_config.TextColumn(_("Country or region")),
        "partner": st.column_config.TextColumn(_("Partner")),
        "services": st.column_config.TextColumn(_("Services")),
        "outcome": st.column_config.TextColumn(_("Finder outcome")),
        "recommended": st.column_config.TextColumn(_("Recommended organization")),
        "confidence": st.column_config.ProgressColumn(
            _("Confidence"), format="%.0f%%", min_value=0, max_value=100
        ),
        "review": st.column_config.TextColumn(_("Review")),
        "at_risk": st.column_config.CheckboxColumn(_("At risk")),
        "org": st.column_config.TextColumn(_("Organization")),
    }


def country_codes() -> list[str]:
    """Every ISO country, in the reader's alphabetical order."""
    return sorted((c.alpha_2 for c in pycountry.countries), key=lambda code: country(code))
