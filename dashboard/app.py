"""The app's script (served by `streamlit run dashboard/server.py`, which adds the sign-in
cookie's routes; AppTest runs it directly). Draws the shared sidebar, then routes to
the pages in `dashboard/views/`, which stay thin (read state, call one service, render).

Nobody signed in: the sign-in page is the only page there is (a deep link or a download
reaches nothing else). Signed in: the pages the person's role may read. Hiding a page is
a courtesy; every read and every action is checked again by the service layer.

An e-mail link (`/link?t=TOKEN`) opens the link pages instead, signed in or not: they act
only as the link's person (`dashboard/link_access.py`), never as a signed-in account.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

# `streamlit run dashboard/app.py` puts dashboard/ on sys.path, not the project root.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dashboard import link_access, ui  # noqa: E402
from dashboard.i18n import _  # noqa: E402
from provisioning import failures  # noqa: E402
from provisioning.access import Actor, Permission, allows  # noqa: E402
from provisioning.errors import InvalidInput  # noqa: E402
from provisioning.i18n import N_  # noqa: E402

# Not `pages/`: Streamlit would also treat that folder as an old-style multipage app, and
# a deep link opened before the router ever ran (`/order?order=…`) would skip the router.
PAGES = Path(__file__).parent / "views"
# Section, then each page: its file, title, icon and the permission that shows it.
SECTIONS: tuple[tuple[str, tuple[tuple[str, str, str, Permission], ...]], ...] = (
    (
        N_("Operations"),
        (
            ("queue.py", N_("Queue"), ":material/inbox:", Permission.READ_ORDERS),
            ("order.py", N_("Order"), ":material/assignment:", Permission.READ_ORDERS),
        ),
    ),
    (
        N_("Management"),
        (
            ("backlog.py", N_("Backlog"), ":material/monitoring:", Permission.READ_BACKLOG),
            ("audit.py", N_("Audit"), ":material/history:", Permission.READ_AUDIT),
        ),
    ),
    (
        N_("Analysis"),
        (("matching.py", N_("Matching"), ":material/model_training:", Permission.READ_MODELS),),
    ),
    (
        N_("Administration"),
        (("accounts.py", N_("Accounts"), ":material/group:", Permission.MANAGE_ACCOUNTS),),
    ),
)


def pages_for(actor: Actor) -> dict[str, list[st.Page]]:
    """The sections and pages the actor's role may read; the first page is the default."""
    sections: dict[str, list[st.Page]] = {}
    for section, pages in SECTIONS:
        for file, title, icon, permission in pages:
            if allows(actor, permission):
                page = st.Page(PAGES / file, title=_(title), icon=icon, default=not sections)
                sections.setdefault(_(section), []).append(page)
    return sections


def signing_in() -> list[st.Page]:
    """The sign-in page, also under every page's address: a link to `/order?order=…`
    shows the sign-in page and, once signed in, opens that order (the rerun keeps the
    address), instead of "page not found"."""
    sign_in = PAGES / "sign_in.py"
    paths = [Path(file).stem for _section, pages in SECTIONS for file, *_rest in pages]
    return [st.Page(sign_in, title=_("Sign in"), icon=":material/login:", default=True)] + [
        st.Page(sign_in, title=_("Sign in"), url_path=path) for path in paths
    ]


def link_pages() -> list[st.Page]:
    """An e-mail link's page (`/link?t=TOKEN`): no account needed, and never the signed-in
    account's either; the link is the credential (`dashboard/link_access.py`)."""
    link = PAGES / "link.py"
    # Also the default page, but under its own address: the address bar keeps `/link`
    # (a reload there shows the link page again, not the sign-in form).
    return [
        st.Page(link, title=_("Your order"), url_path="your-order", default=True),
        st.Page(link, title=_("Your order"), url_path="link"),
    ]


def route() -> None:
    if link_access.wanted():
        st.navigation(link_pages(), position="hidden").run()
        st.stop()
    actor = ui.signed_in()
    ui.sidebar(actor)
    if actor is None:
        navigation = st.navigation(signing_in(), position="hidden")
    else:
        navigation = st.navigation(pages_for(actor))
    st.sidebar.caption("Onboarding Desk")
    navigation.run()


st.set_page_config(page_title="Onboarding Desk", layout="wide")
try:
    route()
except (SQLAlchemyError, OSError, InvalidInput) as exc:
    # An unreachable or damaged database, a full disk, a bad setting: one line saying
    # what to do, never a traceback (the detail is in the server's debug log).
    failures.log.debug("page failed", exc_info=True)
    st.error(failures.explain(exc)[0])
