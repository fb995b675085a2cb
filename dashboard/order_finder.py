"""The Order page's organization finder: the seed's outcome, the candidates side by side
with their evidence, blind review, search, a new org. Rendered by `views/order.py`."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from dashboard import components, data, ui
from dashboard.data import operations
from dashboard.i18n import _
from provisioning import i18n, orders
from provisioning.access import Actor, Permission, allows
from provisioning.errors import ProvisioningError
from provisioning.finder import blind_review
from provisioning.rules import (
    INDUSTRY_VERTICALS,
)
from provisioning.states import Intent

VISIBLE_CANDIDATES = 3


def _url() -> str:
    return data.database_url()


# --- the organization finder ------------------------------------------------------------


def remember_blind_pick(order_id: str, org_id: str | None) -> Callable[[object], None]:
    """After the pick is stored: this session may reveal the finder's pick beside it."""

    def remember(_recorded: object) -> None:
        st.session_state.setdefault("blind_picks", {})[order_id] = org_id

    return remember


def finder_step(view: operations.OrderView, viewer: Actor) -> None:
    """The finder's answer; its choices only for a role that resolves orders, and the
    blind review only for support's own operators (their measurement, not a partner's)."""
    summary = view.summary
    st.subheader(_("Organization finder"))
    try:
        match = operations.match_view(_url(), viewer, summary.order_id, summary.partner_name)
    except ProvisioningError as exc:
        ui.show_error(exc)
        return
    components.outcome_sentence(match.outcome)
    components.email_note(match)
    acts = allows(viewer, Permission.RESOLVE_ORDERS)
    if acts:
        components.refusal_summary(operations.refusal("finder"))
    reviews = acts and allows(viewer, Permission.BLIND_REVIEW)
    blind = reviews and operations.is_blind(summary.order_id)
    if blind and not operations.blind_pick_made(_url(), viewer, summary.order_id):
        blind_candidates(view, match)
        org_search(view, blind=True)
        return
    picks = st.session_state.get("blind_picks", {})
    if summary.order_id in picks:
        blind_reveal(match, picks[summary.order_id])
    elif blind:
        st.caption(_("You made your blind pick for this order earlier."))
    components.recommendation(match)
    if not acts:
        candidate_columns(view, match, list(match.candidates), acts=False)
        return
    st.caption(_("Your decision is recorded with the order and trains the organization finder."))
    candidate_columns(view, match, list(match.candidates), acts=True)
    org_search(view, blind=False)
    create_org_step(view, expanded=match.recommended is None)
    delegate_step(view)


def candidate_columns(
    view: operations.OrderView,
    match: operations.MatchView,
    shown: list[operations.CandidateView],
    *,
    acts: bool,
) -> None:
    """The first candidates side by side, the others behind "More candidates"."""
    candidate_rows(view, match, shown[:VISIBLE_CANDIDATES], acts=acts)
    if shown[VISIBLE_CANDIDATES:]:
        more = len(shown) - VISIBLE_CANDIDATES
        with st.expander(_("More candidates ({count})").format(count=more)):
            candidate_rows(view, match, shown[VISIBLE_CANDIDATES:], acts=acts)


def candidate_rows(
    view: operations.OrderView,
    match: operations.MatchView,
    group: list[operations.CandidateView],
    *,
    acts: bool,
) -> None:
    for column, candidate in zip(st.columns(VISIBLE_CANDIDATES), group, strict=False):
        with column:
            card = components.candidate_card(
                candidate,
                match.domain,
                blind=False,
                recommended=candidate.org_id == match.recommended_org_id,
            )
            if acts and card.button(
                _("Choose this organization"),
                key=f"finder_choose_{candidate.org_id}",
                type="primary" if candidate.org_id == match.recommended_org_id else "secondary",
                width="stretch",
            ):
                map_to(view, candidate.org_id, candidate.name)
    rest = group[VISIBLE_CANDIDATES:]
    if rest:
        candidate_rows(view, match, rest, acts=acts)


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
        hits = operations.search_orgs(
            _url(), ui.current_actor(), text.strip(), summary.country if only_country else None
        )
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
        codes = components.country_codes()
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
                format_func=lambda v: _(i18n.INDUSTRIES[v]) if v in i18n.INDUSTRIES else v,
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
