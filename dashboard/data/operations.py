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
from typing import Any

import streamlit as st

from dashboard import ui
from dashboard.data import checked_database, clear_read_caches, current_database, database
from dashboard.i18n import _
from provisioning.access import Actor, Permission
from provisioning.errors import Forbidden, InvalidInput, ProvisioningError
from provisioning.finder import blind_review, for_viewer, org_search
from provisioning.finder.for_viewer import MatchView
from provisioning.orders import (
    ActionResult,
    check_site_name_available,
    queue,
)
from provisioning.orders.read import OrderView, order_view_for, summary_for
from provisioning.orders.summary_pdf import render_summary

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
    return queue.queue_for(database(url), viewer, where, limit=PAGE_SIZE, offset=offset)


@st.cache_data(ttl=300, show_spinner=False)
def queue_choices(url: str, viewer: Actor) -> queue.QueueChoices:
    return queue.choices_for(database(url), viewer)


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def order_view(url: str, viewer: Actor, order_id: str, deadline_days: int) -> OrderView:
    """Raises NotFound for an unknown order id, or another partner's (not cached)."""
    return order_view_for(database(url), viewer, order_id, deadline_days)


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def match_view(
    url: str, viewer: Actor, order_id: str, partner_name: str | None = None
) -> MatchView:
    """The finder's ranking of one order awaiting its org, as `viewer` may see it
    (`provisioning.finder.for_viewer`; Conflict once the order is decided)."""
    db = checked_database(url, viewer, Permission.READ_ORDERS)
    return for_viewer.answer_for(db, viewer, order_id, partner_name)


@st.cache_data(ttl=READ_TTL, show_spinner=False)
def search_orgs(
    url: str, viewer: Actor, text: str, country: str | None = None
) -> list[org_search.OrgHit]:
    """ "Search all organizations" the viewer may see: by id, e-mail, domain or name."""
    return org_search.search_for(database(url), viewer, text, country)


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
    return blind_review.pick_made_for(database(url), viewer, order_id)


def summary_pdf(url: str, viewer: Actor, order_id: str, lang: str) -> Callable[[], bytes]:
    """The order summary PDF in the reader's language, made when the person clicks the
    download button: rendering takes a few hundred milliseconds, which no page view
    should pay for (Streamlit runs the callable in its own thread, outside the script)."""
    db = checked_database(url, viewer, Permission.READ_ORDERS)

    def render() -> bytes:
        return render_summary(summary_for(db, viewer, order_id), lang)

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
