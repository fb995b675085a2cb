"""Entry point: `streamlit run dashboard/app.py`. Draws the shared sidebar, then routes to
the pages in `dashboard/views/`, which stay thin (read state, call one service, render)."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run dashboard/app.py` puts dashboard/ on sys.path, not the project root.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dashboard import ui  # noqa: E402
from dashboard.i18n import _  # noqa: E402

# Not `pages/`: Streamlit would also treat that folder as an old-style multipage app, and
# a deep link opened before the router ever ran (`/order?order=…`) would skip the router.
PAGES = Path(__file__).parent / "views"

st.set_page_config(page_title="Onboarding Desk", layout="wide")
ui.sidebar()
navigation = st.navigation(
    {
        _("Operations"): [
            st.Page(PAGES / "queue.py", title=_("Queue"), icon=":material/inbox:", default=True),
            st.Page(PAGES / "order.py", title=_("Order"), icon=":material/assignment:"),
        ],
        _("Management"): [
            st.Page(PAGES / "backlog.py", title=_("Backlog"), icon=":material/monitoring:"),
            st.Page(PAGES / "audit.py", title=_("Audit"), icon=":material/history:"),
        ],
        _("Analysis"): [
            st.Page(PAGES / "matching.py", title=_("Matching"), icon=":material/model_training:"),
        ],
    }
)
st.sidebar.caption("Onboarding Desk")
navigation.run()
