"""The only place the app touches the service layer: cached resources and read models.

`st.cache_resource` holds the database (one engine per process, shared by sessions, never
mutated); `st.cache_data` holds query results briefly (`ttl`) so reruns stay fast. Each
area of the app has its own module here (`operations` for the queue and the order,
`insights` for the backlog, matching and audit pages, `accounts` for the admin's page);
this one holds what they share.

Every read is made for a viewer (the signed-in `Actor`) by a service that checks the
viewer's permission itself and scopes a partner admin to its own customers (`queue_for`,
`order_view_for`, `answer_for`, `view_for`, …); a service that does not take a viewer is
reached through `checked_database` below. Cached read models take the viewer as an
argument, so one person's cached answer is never served to another.
"""

from __future__ import annotations

import streamlit as st

from provisioning.access import Actor, Permission, authorize
from provisioning.db import Database
from provisioning.settings import Settings


@st.cache_resource(show_spinner=False)
def database(url: str) -> Database:
    db = Database(url, setup_deadline_days=settings().setup_deadline_days)
    db.ensure_schema()
    return db


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    """Built once per process from the environment, like the CLI builds it per command."""
    return Settings.from_env()


def database_url() -> str:
    """The database the app reads: what the pages key their cached reads by."""
    return settings().database_url


def current_database() -> Database:
    return database(database_url())


def checked_database(url: str, viewer: Actor, permission: Permission) -> Database:
    """The database for a service read that opens its own session (the audit trail, the
    scorer models, the finder's ranking, the global site-name check, the account list),
    once `viewer` holds `permission`: those functions do not check a reader's role.

    Their sessions are not partner-scoped: no partner role is granted the audit trail,
    the models or the accounts, and what the finder ranks is filtered for the viewer by
    `provisioning.finder.for_viewer`; a site name is global in Webex on purpose.
    """
    authorize(viewer, permission)
    return database(url)


def clear_read_caches() -> None:
    """After a change, every cached read model is stale: the next rerun reads afresh.
    (The matching diagnostics are keyed by model version, so a new version misses too.)"""
    st.cache_data.clear()
