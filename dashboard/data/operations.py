"""Read models and actions of the operations pages: the queue and the order.

Reads are made for the signed-in viewer (refused without the permission, scoped to a
partner admin's customers) and cached (`st.cache_data`, short `ttl`) keyed by the database
URL and the viewer, so a rerun caused by typing in a form does not query again and no one
is served another person's answer; every successful action clears them
(`data.clear_read_caches`). Results are plain frozen dataclasses, never ORM objects, so the
cache can pickle them and the pages cannot lazy-load anything.

Actions go through `perform`: it passes who is acting, runs one service function, and turns
the outcome into what the next rerun shows — a success line, or the refusal with each
field's reason, which the page draws next to that field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import streamlit as st
from sqlalchemy.orm import Session

from dashboard import ui
from dashboard.data import checked_database, clear_read_caches, current_database, read_session
from dashboard.i18n import _
from provisioning import backlog, finder, queue
from provisioning.access import Actor, Permission, reading, visible_org_ids
from provisioning.errors import Forbidden, InvalidInput, NotFound, ProvisioningError
from provisioning.finder import blind_review, org_search
from provisioning.models import Order
from provisioning.models.base import utcnow
from provisioning.orders import ActionResult, check_site_name_available, load_summary, order_detail
from provisioning.pdf import render_summary
from provisioning.summary import OrderSummary

PAGE_SIZE = 50
READ_TTL = 30  # seconds: long enough for reruns, short enough for colleagues' changes
FLASH_KEY = "ops_flash"
REFUSALS_KEY = "ops_refusals"


# --- reads ------------------------------------------------------------------------------


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def queue_page(
    url: str, viewer: Actor, where: queue.QueueFilter, offset: int = 0
) -> queue.QueuePage:
    """One page of the operators' queue with its counts (a partner admin's: its own)."""
    with read_session(url, viewer, Permission.READ_ORDERS) as session:
        return queue.queue(session, where, limit=PAGE_SIZE, offset=offset)


@dataclass(frozen=True, slots=True)
class QueueChoices:
    """What the queue's filters offer: partners and countries that have open orders."""

    partners: dict[str, str]  # partner org id -> name
    countries: tuple[str, ...]


@st.cache_data(ttl=300, show_spinner=False)
def queue_choices(url: str, viewer: Actor) -> QueueChoices:
    with read_session(url, viewer, Permission.READ_ORDERS) as session:
        partners = {
            row["key"]: row["label"] or row["key"]
            for row in backlog.breakdown(session, "partner")
            if row["key"]
        }
        countries = sorted({row["key"] for row in backlog.breakdown(session, "country")} - {None})
    return QueueChoices(dict(sorted(partners.items(), key=lambda kv: kv[1])), tuple(countries))


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order as the order page shows it: `order_detail` (the CLI's contract, with the
    drafts), the summary (the PDF's model) and its age."""

    detail: dict[str, Any]
    summary: OrderSummary
    age_days: int

    @property
    def order_id(self) -> str:
        return self.summary.order_id

    @property
    def state(self) -> str:
        return self.summary.state

    def draft(self, service: str) -> dict[str, Any]:
        entry = self.detail["services"].get(service) or {}
        return dict(entry.get("draft") or {})


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def order_view(url: str, viewer: Actor, order_id: str, deadline_days: int) -> OrderView:
    """Raises NotFound for an unknown order id, or another partner's (not cached)."""
    now = utcnow()
    with read_session(url, viewer, Permission.READ_ORDERS) as session:
        detail = order_detail(session, order_id, deadline_days, now)
        summary = load_summary(session, order_id, now)
    return OrderView(detail, summary, (now - summary.placed_at).days)


@dataclass(frozen=True, slots=True)
class Reason:
    feature: str
    value: float
    contribution: float  # log-odds


@dataclass(frozen=True, slots=True)
class CandidateView:
    """One candidate org with the facts an operator checks (workflow.md, step 3)."""

    org_id: str
    name: str
    score: float
    country: str | None
    status: str
    created_at: datetime
    partner_id: str | None
    partner_name: str | None
    members: int
    active_members: int
    last_activity_at: datetime | None
    domains: tuple[tuple[str, str], ...]  # (domain, unverified/verified/claimed)
    members_on_domain: int | None
    holds_email: bool
    managed_by_ordering_partner: bool
    is_ordering_partner: bool
    evidence: tuple[str, ...]  # the finder's own words (English)
    reasons: tuple[Reason, ...]
    found_by: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Doubt:
    """Why the confidence is below the model's own probability (`matching.explain.doubts`)."""

    kind: str  # agreement / familiarity / guard_rail
    limit: float  # the most it lets the confidence be
    rule: str | None = None  # a guard rail's key
    support: int | None = None  # familiarity: training orders with such a right answer
    org_name: str | None = None  # a guard rail's org


@dataclass(frozen=True, slots=True)
class MatchView:
    order_id: str
    outcome: str
    recommended_org_id: str | None
    confidence: float
    review: str
    p_new_org: float
    why_first: str | None
    domain: str | None  # the e-mail's registrable domain
    host: str | None  # the e-mail's own domain (a subdomain of `domain`, or the same)
    free_mail: bool  # a consumer mail domain: no evidence of an organization
    partner_own_address: bool  # the ordering partner typed an address of its own
    candidates: tuple[CandidateView, ...]  # best first
    withheld: bool = False  # the finder's pick is an org the viewer may not see
    model_confidence: float | None = None  # the model's own probability, before doubts
    doubts: tuple[Doubt, ...] = ()

    @property
    def recommended(self) -> CandidateView | None:
        return next((c for c in self.candidates if c.org_id == self.recommended_org_id), None)


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def match_view(
    url: str, viewer: Actor, order_id: str, partner_name: str | None = None
) -> MatchView:
    """The finder's ranking of one order awaiting its org (Conflict once it is decided).

    The finder ranks every org in the database, not only those the viewer may see: the
    order itself must be visible to the viewer, and a partner admin sees only the
    candidates that are its own customers' orgs — with no recommendation when the
    finder's pick is someone else's (not even why it came first).
    """
    with read_session(url, viewer, Permission.READ_ORDERS) as session:
        if session.get(Order, order_id) is None:
            raise NotFound(f"order {order_id!r} does not exist")
    result = finder.match_one(checked_database(url, viewer, Permission.READ_ORDERS), order_id)
    public = result.to_dict()
    found = result.ranking.found
    partner_id = found.order.partner_id
    ranked = list(zip(result.ranking.ranked, public["candidates"], strict=False))
    with read_session(url, viewer, Permission.READ_ORDERS) as session:
        visible = visible_org_ids(session, viewer, {s.candidate.facts.org_id for s, _ in ranked})
        ranked = [(s, shown) for s, shown in ranked if s.candidate.facts.org_id in visible]
        partners = _partner_names(
            session, {s.candidate.facts.partner_id for s, _ in ranked} - {None}
        )
    if partner_id and partner_name:
        partners[partner_id] = partner_name
    withheld = public["recommended_org_id"] not in (None, *visible)
    candidates = []
    for scored, shown in ranked:
        candidate, facts = scored.candidate, scored.candidate.facts
        candidates.append(
            CandidateView(
                org_id=facts.org_id,
                name=facts.name,
                score=shown["score"],
                country=facts.country,
                status=facts.status,
                created_at=facts.created_at,
                partner_id=facts.partner_id,
                partner_name=partners.get(facts.partner_id or ""),
                members=facts.members,
                active_members=facts.active_members,
                last_activity_at=facts.last_activity_at,
                domains=tuple(
                    (hit.domain, hit.status.value)
                    for hit in sorted(candidate.domain_hits, key=lambda h: h.domain)
                ),
                members_on_domain=(
                    candidate.members_on_domain.members if candidate.members_on_domain else None
                ),
                holds_email="exact" in shown["found_by"],
                managed_by_ordering_partner=bool(partner_id) and facts.partner_id == partner_id,
                is_ordering_partner=bool(partner_id) and facts.org_id == partner_id,
                evidence=tuple(shown["evidence"]),
                reasons=tuple(
                    Reason(r["feature"], float(r["value"]), float(r["contribution"]))
                    for r in shown["reasons"]
                ),
                found_by=tuple(shown["found_by"]),
            )
        )
    return MatchView(
        order_id=order_id,
        outcome=public["outcome"],
        recommended_org_id=None if withheld else public["recommended_org_id"],
        confidence=public["confidence"],
        review=public["review"],
        p_new_org=public["p_new_org"],
        # The reason names the first two candidates: said only when both may be seen.
        why_first=public["why_first"] if len(candidates) == len(public["candidates"]) else None,
        domain=found.registrable or None,
        host=found.host or None,
        free_mail=found.free_mail,
        partner_own_address=found.partner_own_address,
        candidates=tuple(candidates),
        withheld=withheld,
        # Doubts name orgs (a guard rail's): said only when the recommendation may be.
        model_confidence=None if withheld else public["model_confidence"],
        doubts=()
        if withheld
        else tuple(
            Doubt(
                d["kind"],
                d["limit"],
                d.get("rule"),
                d.get("support"),
                d.get("org_name") if found.exact_org_id in visible else None,
            )
            for d in public["doubts"]
        ),
    )


def _partner_names(session: Session, partner_ids: set[str]) -> dict[str, str]:
    """The names of the partners managing the candidates: an org id alone means nothing
    to an operator. One indexed look-up by id per partner (a handful per order)."""
    names: dict[str, str] = {}
    for partner_id in sorted(partner_ids):
        hit = next(iter(org_search.search_orgs(session, partner_id, limit=1)), None)
        if hit is not None and hit.org_id == partner_id:
            names[partner_id] = hit.name
    return names


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def search_orgs(
    url: str, viewer: Actor, text: str, country: str | None = None
) -> list[org_search.OrgHit]:
    """ "Search all organizations" the viewer may see: by id, e-mail, domain or name."""
    with read_session(url, viewer, Permission.READ_ORDERS) as session:
        return org_search.search_orgs(session, text, country=country)


@st.cache_data(ttl=10, show_spinner=False)
def site_check(url: str, viewer: Actor, name: str, company_name: str | None) -> dict[str, Any]:
    """Is a site URL name valid and free; free suggestions from the company name if not.
    (Site names are global in Webex: the check sees every site, and answers only yes/no.)"""
    db = checked_database(url, viewer, Permission.PROVISION)
    return check_site_name_available(db, name, company_name)


def is_blind(order_id: str) -> bool:
    return blind_review.is_blind(order_id)


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def blind_pick_made(url: str, viewer: Actor, order_id: str) -> bool:
    """Has this operator made their blind pick for the order (so the model's may show)?"""
    with read_session(url, viewer, Permission.READ_ORDERS) as session:
        return blind_review.has_review(session, order_id, viewer.email)


def summary_pdf(url: str, viewer: Actor, order_id: str, lang: str) -> Callable[[], bytes]:
    """The order summary PDF in the reader's language, made when the person clicks the
    download button: rendering takes a few hundred milliseconds, which no page view
    should pay for (Streamlit runs the callable in its own thread, outside the script)."""
    db = checked_database(url, viewer, Permission.READ_ORDERS)

    def render() -> bytes:
        with reading(db, viewer, Permission.READ_ORDERS) as session:
            summary = load_summary(session, order_id)
        return render_summary(summary, lang)

    return render


# --- actions ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the last attempt of an action was refused: a message and each field's reason
    (kept in the session as plain data, so it survives the rerun that shows it)."""

    message: str
    fields: tuple[tuple[str, str], ...] = ()


def refusal(scope: str) -> Refusal | None:
    """The refusal of the last attempt in `scope` (a form of the page), if any."""
    return st.session_state.get(REFUSALS_KEY, {}).get(scope)


def forget_refusals() -> None:
    """Another order was opened: its forms start clean."""
    st.session_state[REFUSALS_KEY] = {}


def take_flash() -> str | None:
    """The success line of the last action, shown once."""
    return st.session_state.pop(FLASH_KEY, None)


def perform(
    scope: str,
    action: Callable[..., Any],
    *args: Any,
    done: str | Callable[[Any], str],
    on_success: Callable[[Any], None] | None = None,
    **kwargs: Any,
) -> None:
    """Run one service action for the signed-in person, then rerun the page.

    The service checks the person's role (a hidden button is only a courtesy): a refusal,
    that one included, is kept under `scope` and shown by the rerun next to its fields;
    the service changed nothing. On success every cached read is dropped, so the rerun
    shows the new state.
    """
    kwargs["actor"] = ui.current_actor()
    refusals = st.session_state.setdefault(REFUSALS_KEY, {})
    try:
        result = action(current_database(), *args, **kwargs)
    except InvalidInput as exc:
        refusals[scope] = Refusal(
            exc.summary, tuple((problem.field, problem.reason) for problem in exc.errors)
        )
        st.rerun()
    except Forbidden:
        refusals[scope] = Refusal(_("Your role does not allow this; nothing was changed."))
        st.rerun()
    except ProvisioningError as exc:
        refusals[scope] = Refusal(str(exc))
        st.rerun()
    refusals.pop(scope, None)
    clear_read_caches()
    if on_success is not None:
        on_success(result)
    unchanged = isinstance(result, ActionResult) and not result.changed
    if unchanged:
        st.session_state[FLASH_KEY] = _("Nothing to change: that was already done.")
    else:
        st.session_state[FLASH_KEY] = done(result) if callable(done) else done
    st.rerun()
