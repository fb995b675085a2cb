"""An e-mail link's grant in the browser session: resolved once, checked on every run.

`{public_url}/link?t=TOKEN` opens the link pages, outside the signed-in navigation and
without an account: the token is the credential. It is resolved once (the failure counter
and the one refusal for every cause live in `provisioning.access.links`), the link's
`Actor` and its token are kept in the session under this module's keys, and the token is
taken out of the address bar, so it is not left in the browser's history or a screenshot.
Every later run checks the link again (`links.still_valid`), so a revoked link stops at
the person's next click.

The link pages act only as the link's person: a signed-in account in the same browser
session is never used by them, nor is the link actor ever put where the signed-in pages
look for theirs (`dashboard.ui`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import streamlit as st

from dashboard.data import clear_read_caches, current_database, settings
from dashboard.data.operations import Refusal
from dashboard.i18n import LANGUAGE_KEY, _
from provisioning.access import Actor, links
from provisioning.errors import Conflict, Forbidden, InvalidInput, ProvisioningError
from provisioning.orders import ActionResult, customer, emails
from provisioning.states import LinkRole

GRANT_KEY = "link_grant"
ANSWER_KEY = "link_answer"  # approve / decline, from an approval e-mail's two buttons
DONE_KEY = "link_done"  # what this session finished through the link, shown once more
REFUSALS_KEY = "link_refusals"
FLASH_KEY = "link_flash"
OPENED_KEY = "link_opened"  # this browser session came from a link (valid or not)
LINK_STATE_PREFIX = "link_"


@dataclass(frozen=True, slots=True)
class Grant:
    actor: Actor
    token: str


@dataclass(frozen=True, slots=True)
class Done:
    """What the person finished here: the order complete, or an approval answered (or
    found answered already). The link may stop being valid with it; this session still
    shows the person what they did, and nothing more."""

    actor: Actor
    kind: str  # "complete", "handed_on", "approved", "declined", "moved_on"


def wanted() -> bool:
    """Should this run show the link pages: a token in the address, a link opened earlier
    in this browser session, or the link page's own address (`/link`, e.g. reloaded)?"""
    if st.query_params.get("t") or OPENED_KEY in st.session_state:
        return True
    try:
        path = urlparse(st.context.url or "").path
    except (AttributeError, RuntimeError):  # no browser request (e.g. a test harness)
        return False
    return path.rstrip("/").endswith(f"/{links.LINK_PATH}")


def client_address() -> str | None:
    """The client the failure counter is kept for: the socket's address, or, when that is
    a proxy on this machine or the private network, the last `X-Forwarded-For` entry (the
    address that proxy saw; anything before it the client could have written itself)."""
    try:
        peer = st.context.ip_address
        forwarded = st.context.headers.get("X-Forwarded-For") or ""
    except (AttributeError, RuntimeError):
        return None
    if not isinstance(peer, str):
        return None  # a test harness's stand-in
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    try:
        behind_proxy = ipaddress.ip_address(peer).is_private  # loopback included
    except ValueError:
        behind_proxy = False
    return hops[-1] if hops and behind_proxy else peer


def current() -> Actor | None:
    """The link's person, or None when the link is not (or no longer) valid."""
    token = st.query_params.get("t")
    if token:
        answer = st.query_params.get("answer")
        for name in ("t", "answer"):
            if name in st.query_params:
                del st.query_params[name]
        forget()
        st.session_state[OPENED_KEY] = True  # the link page stays, even for a wrong link
        db = current_database()
        try:
            actor = links.resolve(db, token, client=client_address())
        except links.LinkRefused:
            return None
        st.session_state[GRANT_KEY] = Grant(actor, token)
        if answer in ("approve", "decline"):
            st.session_state[ANSWER_KEY] = answer
        order = _order_country(actor)
        # The order's language, as its e-mails are written in: the person may switch.
        st.session_state[LANGUAGE_KEY] = emails.language_for(order, settings().email_language)
        return actor
    grant = st.session_state.get(GRANT_KEY)
    if not isinstance(grant, Grant):
        return None
    if not links.still_valid(current_database(), grant.actor, grant.token):
        del st.session_state[GRANT_KEY]
        answered_here = isinstance(st.session_state.get(DONE_KEY), Done)
        if grant.actor.role is LinkRole.APPROVER and not answered_here:
            # This session held the valid link: the request was answered (by someone
            # else, another tab, a telephone call) or the order moved on. Say so. (An
            # answer given here ended the link too: its own Done stays.)
            st.session_state[DONE_KEY] = Done(grant.actor, "moved_on")
        return None
    return grant.actor


def forget() -> None:
    """Drop everything a link left in the session (its grant, forms, what it finished);
    the language and anything a signed-in account keeps stay."""
    for key in list(st.session_state):
        if str(key).startswith(LINK_STATE_PREFIX):
            del st.session_state[key]


def _order_country(actor: Actor) -> str | None:
    if actor.role is LinkRole.APPROVER:
        return customer.approval_request(current_database(), actor).country
    return customer.order_view(current_database(), actor).country


def refusal(scope: str) -> Refusal | None:
    return st.session_state.get(REFUSALS_KEY, {}).get(scope)


def refuse(scope: str, message: str, fields: tuple[tuple[str, str], ...] = ()) -> None:
    """A refusal found by the page itself (a required answer missing): shown like the
    service's own, nothing was called."""
    st.session_state.setdefault(REFUSALS_KEY, {})[scope] = Refusal(message, fields)
    st.rerun()


def take_flash() -> str | None:
    return st.session_state.pop(FLASH_KEY, None)


def perform(
    actor: Actor,
    scope: str,
    action: Callable[..., Any],
    *args: Any,
    done: str,
    finished: Callable[[ActionResult], str | None] | None = None,
    moved_on: bool = False,
    **kwargs: Any,
) -> None:
    """Run one service action as the link's person, then rerun the page.

    The same service functions as an operator's, with the link `Actor`: they check its
    permissions and its one order, and their audit events name the person and the link
    role. A refusal is kept under `scope` with each field's reason and nothing changed;
    `moved_on` turns a `Conflict` into the "already answered / moved on" page.
    `finished` says which `Done` a result is (None: not finished).
    """
    refusals = st.session_state.setdefault(REFUSALS_KEY, {})
    try:
        result = action(current_database(), *args, actor=actor, **kwargs)
    except InvalidInput as exc:
        refusals[scope] = Refusal(
            _("Nothing was saved. Correct the fields marked below."),
            tuple((problem.field, problem.reason) for problem in exc.errors),
        )
        st.rerun()
    except Conflict as exc:
        if moved_on:
            st.session_state[DONE_KEY] = Done(actor, "moved_on")
        else:
            refusals[scope] = Refusal(str(exc))
        st.rerun()
    except Forbidden:
        refusals[scope] = Refusal(_("This link does not allow that; nothing was changed."))
        st.rerun()
    except ProvisioningError as exc:
        refusals[scope] = Refusal(str(exc))
        st.rerun()
    refusals.pop(scope, None)
    clear_read_caches()
    kind = finished(result) if finished is not None else None
    grant = st.session_state.get(GRANT_KEY)
    ended = isinstance(grant, Grant) and not links.still_valid(
        current_database(), actor, grant.token
    )
    if kind is None and ended:
        kind = "handed_on"  # the step ended what the link was for (e.g. delegated)
    if kind is not None:
        st.session_state[DONE_KEY] = Done(actor, kind)
    unchanged = isinstance(result, ActionResult) and not result.changed
    st.session_state[FLASH_KEY] = (
        _("Nothing to change: that was already done.") if unchanged else done
    )
    st.rerun()
