"""Entry point: `streamlit run dashboard/app.py`. Routes to the pages and shows the shared
sidebar; pages live in `dashboard/pages/` and stay thin."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run dashboard/app.py` puts dashboard/ on sys.path, not the project root.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

st.set_page_config(page_title="Onboarding Desk", layout="wide")

pages = [
    st.Page(
        str(Path(__file__).parent / "pages" / "orders.py"),
        title="Orders",
        icon=":material/list:",
        default=True,
    )
]
navigation = st.navigation(pages)
st.sidebar.caption("Onboarding Desk")
navigation.run()
