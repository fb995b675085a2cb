"""The only place the app touches the service layer: cached resources and read models.

`st.cache_resource` holds the database (one engine per process, shared by sessions, never
mutated); `st.cache_data` holds query results briefly (`ttl`) so reruns stay fast. Each
area of the app has its own module here (`operations` for the queue and the order,
`insights` for the backlog, matching and audit pages); this one holds what they share.
"""

from __future__ import annotations

import streamlit as st

from provisioning.db import Database
from provisioning.settings import Settings


@st.cache_resource(show_spinner=False)
def database(url: str) -> Database:
    db = Database(url)
    db.ensure_schema()
    return db


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    """Built once per process from the environment, like the CLI builds it per command."""
    return Settings.from_env()


def current_database() -> Database:
    return database(settings().database_url)


def clear_read_caches() -> None:
    """After a change, every cached read model is stale: the next rerun reads afresh.
    (The matching diagnostics are keyed by model version, so a new version misses too.)"""
    st.cache_data.clear()
