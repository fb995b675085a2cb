"""The only place the app touches the service layer: cached resources and read models.

`st.cache_resource` holds the database (one engine per process, shared by sessions, never
mutated); `st.cache_data` holds query results briefly so reruns stay fast.
"""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd
import streamlit as st

from provisioning import queries
from provisioning.db import Database
from provisioning.settings import Settings


@st.cache_resource(show_spinner=False)
def database(url: str) -> Database:
    db = Database(url)
    db.ensure_schema()
    return db


def current_database() -> Database:
    return database(Settings.from_env().database_url)


@st.cache_data(ttl=10, show_spinner=False)
def orders_frame(url: str, state: str | None, limit: int) -> pd.DataFrame:
    with database(url).read() as session:
        rows = queries.list_orders(session, state=state, limit=limit)
    return pd.DataFrame([asdict(r) for r in rows], columns=list(queries.OrderRow.__slots__))


@st.cache_data(ttl=10, show_spinner=False)
def state_counts(url: str) -> dict[str, int]:
    with database(url).read() as session:
        return queries.count_orders_by_state(session)
