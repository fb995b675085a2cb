"""Orders: every order with its state, newest first, filterable by state."""

from __future__ import annotations

import streamlit as st

from dashboard import data
from provisioning.states import OrderState

db = data.current_database()
st.title("Orders")

counts = data.state_counts(db.url)
columns = st.columns(4)
for column, state in zip(
    columns, ("awaiting_org", "delegated", "org_mapped", "complete"), strict=True
):
    column.metric(state.replace("_", " ").capitalize(), counts.get(state, 0))

choice = st.selectbox(
    "State",
    ["all", *[s.value for s in OrderState]],
    key="orders_state",
    format_func=lambda s: s.replace("_", " "),
)
frame = data.orders_frame(db.url, None if choice == "all" else choice, 1000)
if frame.empty:
    st.info("No orders yet. Load a dataset with `onboard import DIR` or `onboard demo`.")
else:
    st.caption(f"{len(frame)} order(s), newest first (at most 1,000 shown)")
    st.dataframe(frame, hide_index=True, width="stretch")
