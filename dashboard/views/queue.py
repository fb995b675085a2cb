"""Queue: the orders that need a person, ambiguous matches first, then the oldest.

Filters come from the widgets or, for a drill-down from the Backlog page, from the query
parameters `state`, `partner`, `service` and `country`. Selecting a row (or typing an
order id) opens the Order page.
"""

from __future__ import annotations

import streamlit as st

from dashboard import components, data, ui
from dashboard.data import operations
from dashboard.i18n import _, fmt_number, label
from provisioning import i18n
from provisioning.access import Permission, allows
from provisioning.finder import answers
from provisioning.orders import queue

ORDER_PAGE = "views/order.py"
DRILL_DOWN = ("state", "partner", "service", "country")

url = data.database_url()
viewer = ui.current_actor()
st.title(_("Queue"))
components.flash(operations.take_flash())
choices = operations.queue_choices(url, viewer)

# A drill-down (Backlog page) sets the filters once; the operator may change them after.
incoming = {name: st.query_params.get_all(name) for name in DRILL_DOWN}
if any(incoming.values()):
    st.session_state["queue_states"] = [s for s in incoming["state"] if s in queue.QUEUE_STATES]
    st.session_state["queue_partner"] = (incoming["partner"] or [None])[0]
    st.session_state["queue_service"] = (incoming["service"] or [None])[0]
    st.session_state["queue_country"] = ((incoming["country"] or [""])[0] or "").upper() or None
    for name in DRILL_DOWN:
        if name in st.query_params:
            del st.query_params[name]

partners = [None, *choices.partners]
if st.session_state.get("queue_partner") not in partners:
    partners.append(st.session_state["queue_partner"])
countries = [None, *choices.countries]
if st.session_state.get("queue_country") not in countries:
    countries.append(st.session_state["queue_country"])

states_col, partner_col, service_col, country_col = st.columns(4)
states = states_col.multiselect(
    _("State"),
    queue.QUEUE_STATES,
    key="queue_states",
    format_func=lambda state: label(i18n.ORDER_STATES, state),
    placeholder=_("All open states"),
)
partner = partner_col.selectbox(
    _("Partner"),
    partners,
    key="queue_partner",
    format_func=lambda p: _("All partners") if p is None else choices.partners.get(p, p),
)
service = service_col.selectbox(
    _("Service"),
    [None, "meetings", "calling"],
    key="queue_service",
    format_func=lambda s: _("All services") if s is None else label(i18n.SERVICES, s),
)
country = country_col.selectbox(
    _("Country or region"),
    countries,
    key="queue_country",
    format_func=lambda c: _("All countries") if c is None else components.country(c),
)
search_col, waiting_col, min_col, max_col = st.columns([2, 1, 1, 1])
search = search_col.text_input(
    _("Search"),
    key="queue_search",
    placeholder=_("Order ID, e-mail, company, organization ID or name"),
)
waiting = waiting_col.selectbox(
    _("Waiting on"),
    [None, *i18n.WAITING_ON],
    key="queue_waiting_on",
    format_func=lambda w: _("Anyone") if w is None else label(i18n.WAITING_ON, w),
)
min_age = min_col.number_input(
    _("At least this many days old"), min_value=0, step=1, value=None, key="queue_min_age"
)
max_age = max_col.number_input(
    _("At most this many days old"), min_value=0, step=1, value=None, key="queue_max_age"
)

teaching_first = st.toggle(
    _("Teach the finder first"),
    key="queue_teaching_first",
    help=_(
        "Within each group, the orders the finder is least sure of come first instead of "
        "the oldest: deciding them teaches the next model version the most."
    ),
)

where = queue.QueueFilter(
    states=tuple(states),
    partner_id=partner,
    service=service,
    country=country,
    min_age_days=None if min_age is None else int(min_age),
    max_age_days=None if max_age is None else int(max_age),
    search=search.strip() or None,
    waiting_on=waiting,
    teaching_first=teaching_first,
)
if st.session_state.get("queue_where") != where:  # new filters: back to the first page
    st.session_state["queue_where"] = where
    st.session_state["queue_offset"] = 0
offset = st.session_state.setdefault("queue_offset", 0)
page = operations.queue_page(url, viewer, where, offset)

tiles = list(i18n.QUEUE_COUNTS.items())
for row_start in (0, 4):
    for column, (key, title) in zip(st.columns(4), tiles[row_start : row_start + 4], strict=True):
        column.metric(_(title), fmt_number(page.counts.get(key, 0)))
st.caption(
    _("Waiting on the customer: {customer} · waiting on support: {support}").format(
        customer=fmt_number(page.counts.get("waiting_on_customer", 0)),
        support=fmt_number(page.counts.get("waiting_on_support", 0)),
    )
)

if page.counts.get("unscored"):
    st.info(
        _("{count} waiting orders have not been scored by the organization finder yet.").format(
            count=fmt_number(page.counts["unscored"])
        )
    )
    if allows(viewer, Permission.RUN_FINDER) and st.button(
        _("Score waiting orders"), key="queue_score", icon=":material/calculate:"
    ):
        operations.perform(
            "queue",
            answers.score_waiting,
            done=lambda scored: _("{count} orders scored.").format(count=fmt_number(scored)),
        )
components.refusal_summary(operations.refusal("queue"))

with st.form("queue_open_form", border=False):
    typed_col, button_col = st.columns([3, 1], vertical_alignment="bottom")
    typed = typed_col.text_input(_("Open order"), key="queue_open_id", placeholder="ORD-…")
    if button_col.form_submit_button(_("Open"), key="queue_open") and typed.strip():
        st.switch_page(ORDER_PAGE, query_params={"order": typed.strip()})

if not page.rows and offset > 0:  # the orders of this page were decided meanwhile
    st.session_state["queue_offset"] = 0
    st.rerun()
if not page.rows:
    if page.total == 0 and not any(
        (states, partner, service, country, search, waiting, min_age, max_age)
    ):
        st.info(_("No orders need a person. Load orders with `onboard import` or `onboard demo`."))
    else:
        st.info(_("No order matches these filters."))
    st.stop()

frame = components.queue_frame(page.rows)
event = st.dataframe(
    frame,
    key="queue_table",
    on_select="rerun",
    selection_mode="single-row",
    hide_index=True,
    width="stretch",
    column_config=components.queue_columns(),
)
if event.selection.rows:
    chosen = frame.iloc[event.selection.rows[0]]["order_id"]
    st.switch_page(ORDER_PAGE, query_params={"order": chosen})

first, last = offset + 1, offset + len(page.rows)
previous_col, caption_col, next_col = st.columns([1, 4, 1], vertical_alignment="center")
caption_col.caption(
    _("Orders {first}–{last} of {total}. Select a row to open the order.").format(
        first=fmt_number(first), last=fmt_number(last), total=fmt_number(page.total)
    )
)
if previous_col.button(_("Previous"), key="queue_previous", disabled=offset == 0):
    st.session_state["queue_offset"] = max(0, offset - operations.PAGE_SIZE)
    st.rerun()
if next_col.button(_("Next"), key="queue_next", disabled=last >= page.total):
    st.session_state["queue_offset"] = offset + operations.PAGE_SIZE
    st.rerun()
