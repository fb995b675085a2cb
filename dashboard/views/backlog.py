"""Backlog (managers): what is waiting, for how long, where, and whether it is shrinking.

Every figure comes aggregated from `provisioning.reports.backlog` through one cached read model;
a bucket opens in the Queue page with the same filter.
"""

from __future__ import annotations

import streamlit as st

from dashboard import charts, data, ui
from dashboard.data import insights
from dashboard.i18n import _, current_language, fmt_date, fmt_number, label
from provisioning import i18n
from provisioning.models.base import utcnow
from provisioning.reports.backlog import OPEN_STATES

QUEUE_PAGE = "views/queue.py"

url = data.database_url()
viewer = ui.current_actor()
lang = current_language()
st.title(_("Backlog"))
choices = insights.backlog_choices(url, viewer)

partner_col, service_col, country_col, sla_col = st.columns(4)
partner = partner_col.selectbox(
    _("Partner"),
    [None, *choices.partners],
    key="backlog_partner",
    format_func=lambda p: _("All partners") if p is None else choices.partners[p],
)
service = service_col.selectbox(
    _("Service"),
    [None, *choices.services],
    key="backlog_service",
    format_func=lambda s: _("All services") if s is None else label(i18n.SERVICES, s),
)
country = country_col.selectbox(
    _("Country or region"),
    [None, *choices.countries],
    key="backlog_country",
    format_func=lambda c: _("All countries") if c is None else i18n.country_name(c, lang),
)
sla_days = sla_col.number_input(
    _("SLA (days)"),
    min_value=1,
    max_value=365,
    value=14,
    step=1,
    key="backlog_sla_days",
    help=_(
        "The service level: how many days after it was placed an order should be set up. "
        "Open orders older than this count as past the SLA."
    ),
)
view = insights.backlog_view(url, viewer, int(sla_days), int(sla_days), partner, service, country)
counts = view.counts

tiles = st.columns(6)
for column, title, value, help_text in (
    (tiles[0], _("Open"), counts.open, _("Orders not yet complete, expired or decided.")),
    (
        tiles[1],
        _("Pending"),
        counts.pending,
        _("Waiting to hear who the order is for, for an organization or for an approval."),
    ),
    (tiles[2], _("Delegated"), counts.delegated, _("Waiting for the person it was sent to.")),
    (
        tiles[3],
        _("Configure later"),
        counts.configure_later,
        _("Mapped orders with a service left to configure later."),
    ),
    (tiles[4], _("At risk"), counts.at_risk, _("Open orders close to their deadline.")),
    (
        tiles[5],
        _("Past SLA"),
        counts.past_sla,
        _("Open orders placed more than {days} days ago.").format(days=sla_days),
    ),
):
    column.metric(title, fmt_number(value), help=help_text)
customer_col, support_col, _rest = st.columns([1, 1, 4])
customer_col.metric(
    _("Waiting on the customer"),
    fmt_number(counts.waiting_on_customer),
    help=_("Waiting for the contact, the delegate or the organization's administrator."),
)
support_col.metric(
    _("Waiting on support"),
    fmt_number(counts.waiting_on_support),
    help=_("An organization to decide or services to set up."),
)

if not counts.open and not any(row["opened"] for row in view.trend):
    st.info(_("No open orders. Load orders with `onboard import DIR` or `onboard demo`."))

summary = view.age_summary
if summary["open"]:
    st.caption(
        _("Open orders are {median} days old in the median; the oldest {oldest} days.").format(
            median=fmt_number(summary["median_days"]), oldest=fmt_number(summary["oldest_days"])
        )
    )

left, right = st.columns(2)
left.plotly_chart(
    charts.state_bars(counts.by_state, counts.configure_later, counts.customer_self_setup),
    key="backlog_states",
)
right.plotly_chart(charts.age_bands(view.ages, int(sla_days)), key="backlog_ages")
st.plotly_chart(charts.weekly_trend(view.trend), key="backlog_trend")

st.subheader(_("Work the model took off operators"))
work = view.model_work
if work.answered:
    st.caption(
        _(
            "Of {decided} orders decided in the last {weeks} weeks, the model answered "
            "{auto} ({auto_share}) confidently: the operator only had to check its answer. "
            "It offered {confirm} ({confirm_share}) for confirmation and left {operator} to "
            "an operator."
        ).format(
            decided=fmt_number(work.answered),
            weeks=fmt_number(insights.TREND_WEEKS),
            auto=fmt_number(work.auto),
            auto_share=insights.percent(work.share(work.auto)),
            confirm=fmt_number(work.confirm),
            confirm_share=insights.percent(work.share(work.confirm)),
            operator=fmt_number(work.operator),
        )
    )
if work.unrecorded:
    st.caption(
        _(
            "{orders} orders were decided without the model's answer being recorded "
            "(before this release kept it): shown apart, not counted above."
        ).format(orders=fmt_number(work.unrecorded))
    )
if work.answered or work.unrecorded:
    st.plotly_chart(charts.model_work(work.weeks), key="backlog_model_work")
else:
    st.caption(
        _("No orders decided in the last {weeks} weeks.").format(
            weeks=fmt_number(insights.TREND_WEEKS)
        )
    )

by_partner, by_service, by_country = st.tabs(
    [_("By partner"), _("By service"), _("By country or region")]
)
by_partner.plotly_chart(
    charts.breakdown_bars(
        view.by_partner,
        _("Open orders by partner"),
        _("Partner"),
        key_label=lambda key, name: name or _("No partner (direct order)"),
        stack_label=lambda state: label(i18n.ORDER_STATES, state),
    ),
    key="backlog_by_partner",
)
by_service.plotly_chart(
    charts.breakdown_bars(
        view.by_service,
        _("Services of open orders"),
        _("Service"),
        key_label=lambda key, _name: label(i18n.SERVICES, key),
        stack_label=lambda state: label(i18n.SERVICE_STATES, state),
        stack_key="label",
    ),
    key="backlog_by_service",
)
by_country.plotly_chart(
    charts.breakdown_bars(
        view.by_country,
        _("Open orders by country or region"),
        _("Country or region"),
        key_label=lambda key, _name: i18n.country_name(key, lang) if key else _("Unknown"),
        stack_label=lambda state: label(i18n.ORDER_STATES, state),
    ),
    key="backlog_by_country",
)

st.subheader(_("Open these in the queue"))
bucket_col, open_col = st.columns([3, 1], vertical_alignment="bottom")
bucket = bucket_col.selectbox(
    _("Orders in the state"),
    OPEN_STATES,
    key="backlog_bucket",
    format_func=lambda s: (
        f"{label(i18n.ORDER_STATES, s)} ({fmt_number(counts.by_state.get(s, 0))})"
    ),
    help=_("The Queue page opens with this state and the filters above."),
)
if open_col.button(_("Open in the queue"), key="backlog_open_queue"):
    st.switch_page(
        QUEUE_PAGE, query_params=insights.queue_params(bucket, partner, service, country)
    )

st.subheader(_("Orders to chase"))
st.caption(
    _(
        "Delegated orders, and mapped orders with a service left for later or for the "
        "customer, that nobody has touched for {days} days or more."
    ).format(days=sla_days)
)
if view.stale:
    st.dataframe(insights.stale_frame(view.stale), hide_index=True, key="backlog_stale")
    st.download_button(
        _("Download as CSV"),
        insights.stale_csv(view.stale, lang),
        file_name=f"orders-to-chase-{utcnow().date().isoformat()}.csv",
        mime="text/csv",
        key="backlog_stale_csv",
    )
else:
    st.success(_("Nothing to chase: no such order has been idle that long."))
st.caption(_("Figures as of {day}; refreshed every minute.").format(day=fmt_date(utcnow())))
