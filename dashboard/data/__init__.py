"""The only place the app touches the service layer: cached resources and read models.

`st.cache_resource` holds the database (one engine per process, shared by sessions, never
mutated); `st.cache_data` holds query results briefly (`ttl`) so reruns stay fast. Each
area of the app has its own module here (`operations` for the queue and the order,
`insights` for the backlog, matching and audit pages, `accounts` for the admin's page);
this one holds what they share.

Every read is made for a viewer (the signed-in `Actor`) through `read_session` or
`checked_database` below: refused without the page's permission, and for a partner admin
scoped to its own customers. Cached read models take the viewer as an argument, so one
person's cached answer is never served to another (tests/dashboard/test_access.py checks
the rules that make this hold).
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import streamlit as st
from sqlalchemy.orm import Session

from provisioning.access import Actor, Permission, authorize, reading
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


def read_session(
    url: str, viewer: Actor, permission: Permission
) -> AbstractContextManager[Session]:
    """A read session for `viewer`: refused without `permission`, partner-scoped."""
    return reading(database(url), viewer, permission)


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
