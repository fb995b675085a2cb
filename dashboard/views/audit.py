"""Audit: who did what, when, to which record — filtered, newest first, 50 to a page, and
the whole filtered trail as CSV."""

from __future__ import annotations

import streamlit as st

from dashboard import data, ui
from dashboard.data import insights
from dashboard.i18n import _, current_language, fmt_number, label
from provisioning import audit
from provisioning.errors import InvalidInput
from provisioning.models.base import utcnow

PAGE_KEY = "audit_page"

url = data.database_url()
viewer = ui.current_actor()
lang = current_language()
st.title(_("Audit"))
choices = insights.audit_choices(url, viewer)


def back_to_first_page() -> None:
    """New filters, new list: start again from its newest events."""
    st.session_state.pop(PAGE_KEY, None)


actor_col, action_col, type_col = st.columns(3)
actor = actor_col.selectbox(
    _("Who"),
    [None, *choices.actors],
    key="audit_actor",
    on_change=back_to_first_page,
    format_func=lambda a: _("Everyone") if a is None else a,
)
action = action_col.selectbox(
    _("What"),
    [None, *choices.actions],
    key="audit_action",
    on_change=back_to_first_page,
    format_func=lambda a: _("Every action") if a is None else label(audit.ACTIONS, a),
)
entity_type = type_col.selectbox(
    _("Record"),
    [None, *choices.entity_types],
    key="audit_entity_type",
    on_change=back_to_first_page,
    format_func=lambda t: _("Every kind of record") if t is None else label(audit.ENTITY_TYPES, t),
)
search_col, since_col, until_col = st.columns([2, 1, 1])
entity = search_col.text_input(
    _("Record ID"),
    key="audit_entity",
    on_change=back_to_first_page,
    placeholder=_("An order ID, or part of one"),
)
since = since_col.date_input(
    _("From"), value=None, key="audit_since", on_change=back_to_first_page, format="YYYY-MM-DD"
)
until = until_col.date_input(
    _("To"), value=None, key="audit_until", on_change=back_to_first_page, format="YYYY-MM-DD"
)

where = audit.AuditFilter(actor, action, entity_type, entity or None, since, until)
try:
    page = insights.audit_page(url, viewer, where, st.session_state.get(PAGE_KEY, 1))
except InvalidInput:
    page = None
    st.error(_("The end date is before the start date."))

if page is not None and not page.total:
    st.info(_("No events match these filters."))
elif page is not None:
    first = (page.page - 1) * page.page_size + 1
    st.caption(
        _("Events {first}–{last} of {total}, newest first. Times in UTC.").format(
            first=fmt_number(first),
            last=fmt_number(first + len(page.entries) - 1),
            total=fmt_number(page.total),
        )
    )
    st.dataframe(insights.audit_frame(page.entries), hide_index=True, key="audit_events")
    if page.pages > 1:
        st.pagination(page.pages, default=page.page, key=PAGE_KEY)
    st.download_button(
        _("Download as CSV"),
        insights.audit_csv(url, viewer, where, lang),
        file_name=f"audit-{utcnow().date().isoformat()}.csv",
        mime="text/csv",
        key="audit_csv",
        help=_("Every event matching the filters, not only this page."),
    )
