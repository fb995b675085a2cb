"""Matching (analysts): the scorer versions, what the two thresholds would do, how well
calibrated the model is, how it agrees with blind reviews, and the orders it got wrong.

Diagnostics rank the whole decided history once per version (cached); the threshold
what-if recomputes from those answers on every slider move.
"""

from __future__ import annotations

import streamlit as st

from dashboard import charts, components, data, ui
from dashboard.data import insights, operations
from dashboard.i18n import _, fmt_date, fmt_number
from provisioning import finder
from provisioning.access import Permission, allows
from provisioning.errors import ProvisioningError
from provisioning.finder import DEFAULT_VERSION, diagnostics
from provisioning.finder import watch as model_watch

url = data.database_url()
viewer = ui.current_actor()
st.title(_("Matching"))
components.flash(operations.take_flash())


def version_name(version: int | str) -> str:
    if version == DEFAULT_VERSION:
        return _("Shipped model")
    return _("Version {version}").format(version=version)


# --- versions -------------------------------------------------------------------------
st.subheader(_("Model versions"))
versions = insights.model_versions(url, viewer)
active = insights.active_version(versions)
if versions:
    st.caption(
        _(
            "Metrics measured when each version was trained, on decided orders it did not "
            "learn from (held out): the fair comparison between versions."
        )
    )
    st.dataframe(insights.versions_frame(versions), hide_index=True, key="matching_versions")
    if allows(viewer, Permission.PUBLISH_MODELS):
        components.refusal_summary(operations.refusal("matching"))
        pick_col, button_col = st.columns([3, 1], vertical_alignment="bottom")
        chosen = pick_col.selectbox(
            _("Version to activate"),
            [v.version for v in versions],
            key="matching_activate_version",
            format_func=version_name,
        )
        if button_col.button(_("Activate"), key="matching_activate", type="primary"):
            # The rerun's figures all describe the newly active version.
            operations.perform(
                "matching",
                finder.activate,
                int(chosen),
                done=lambda changed: (
                    _("{version} is now used for matching.")
                    if changed
                    else _("{version} was already the active version.")
                ).format(version=version_name(chosen)),
            )
else:
    st.info(
        _(
            "No trained versions yet: the shipped model matches the orders. "
            "Train one with `onboard train`."
        )
    )
st.caption(_("Used for matching now: {version}.").format(version=version_name(active)))

# --- in production --------------------------------------------------------------------
st.subheader(_("In production"))
watch = insights.in_production(url, viewer, active)
if watch.since is None:
    period = _(
        "How the confident answers of {version} held up against the decisions operators "
        "made with it."
    )
else:
    period = _(
        "How the confident answers of {version} held up against the decisions operators "
        "made since it was activated on {day}."
    )
st.caption(period.format(version=version_name(active), day=fmt_date(watch.since)))
if not watch.decided:
    st.info(_("No decision has recorded this version's answer yet."))
else:
    interval = _("{level} interval: {low} to {high}").format(
        level=insights.percent(model_watch.INTERVAL),
        low=insights.percent(watch.low),
        high=insights.percent(watch.high),
    )
    watch_tiles = st.columns(4)
    watch_tiles[0].metric(
        _("Confident answers decided"),
        fmt_number(watch.auto_orders),
        help=_("Decided orders the model had answered at or above the automatic threshold."),
    )
    watch_tiles[1].metric(
        _("Agreed with the decision"),
        insights.percent(watch.precision),
        help=_(
            "{interval}. The operator saw the answer before deciding, so agreement may "
            "flatter the model; blind reviews below are the unbiased check."
        ).format(interval=interval),
    )
    watch_tiles[2].metric(
        _("Target precision"),
        insights.percent(watch.target),
        help=_("What the automatic threshold promises for confident answers."),
    )
    watch_tiles[3].metric(
        _("Answered confidently"),
        insights.percent(watch.share(watch.auto_orders)),
        help=_(
            "Of {decided} decided orders: the work the model took off operators. "
            "{confirm} were offered for confirmation, {operator} left to an operator."
        ).format(
            decided=fmt_number(watch.decided),
            confirm=fmt_number(watch.confirm_orders),
            operator=fmt_number(watch.operator_orders),
        ),
    )
    if watch.status is model_watch.BandStatus.TOO_FEW:
        st.info(
            _(
                "Too few confident answers decided to judge them yet: {count} of the "
                "{needed} needed."
            ).format(
                count=fmt_number(watch.auto_orders),
                needed=fmt_number(model_watch.MIN_AUTO_ORDERS),
            )
        )
    elif watch.status is model_watch.BandStatus.BELOW_TARGET:
        st.warning(
            _(
                "Confident answers are below target: {precision} agreed with the decision "
                "({interval}), against the promised {target}. Do not apply them without "
                "review; raise the automatic threshold or train a better version."
            ).format(
                precision=insights.percent(watch.precision),
                interval=interval,
                target=insights.percent(watch.target),
            )
        )
    else:
        st.caption(
            _("On target: the decisions are consistent with the promised {target}.").format(
                target=insights.percent(watch.target)
            )
        )

# --- diagnostics ----------------------------------------------------------------------
st.subheader(_("Measured on the decided orders"))
options = insights.diagnosable_versions(versions)
diagnosed = st.selectbox(
    _("Version to measure"),
    options,
    index=options.index(active),
    key="matching_diagnose_version",
    format_func=version_name,
)
with st.spinner(_("Ranking every decided order…")):
    report = insights.diagnostics(url, viewer, diagnosed)

if not report.orders:
    st.info(_("No decided orders yet: nothing to measure the model against."))
else:
    st.caption(
        _(
            "{orders} decided orders, ranked as of today. A trained version has seen most of "
            "them, so these figures flatter it; use them to choose thresholds, and the "
            "held-out metrics above to compare versions."
        ).format(orders=fmt_number(report.orders))
    )
    tiles = st.columns(4)
    tiles[0].metric(_("Accuracy"), insights.percent(report.metrics["accuracy"]))
    tiles[1].metric(_("Recall at 5"), insights.percent(report.metrics["recall_at_5"]))
    tiles[2].metric(_("Brier score"), fmt_number(round(report.metrics["brier"], 3)))
    tiles[3].metric(_("Wrong answers"), fmt_number(report.misses_total))

    st.markdown("**" + _("Thresholds: what if") + "**")
    control = report.risk_control
    if control is not None and control.get("auto") is not None:
        st.caption(
            _(
                "The version's automatic threshold, {auto}, was chosen by conformal risk "
                "control: its answers at or above it are right at least {target} of the time "
                "with {certainty} certainty, judged on {orders} orders it never saw."
            ).format(
                auto=fmt_number(control["auto"]),
                target=insights.percent(control["target"]),
                certainty=insights.percent(control["certainty"]),
                orders=fmt_number(control["calibration_orders"]),
            )
        )
    elif control is not None:
        st.caption(
            _(
                "No automatic threshold could promise {target} precision with {certainty} "
                "certainty on the {orders} orders this version was judged on: it applies "
                "nothing on its own."
            ).format(
                target=insights.percent(control["target"]),
                certainty=insights.percent(control["certainty"]),
                orders=fmt_number(control["calibration_orders"]),
            )
        )
    auto_col, review_col = st.columns(2)
    auto = auto_col.slider(
        _("Apply automatically at or above"),
        0.0,
        1.0,
        float(report.thresholds.auto),
        0.01,
        key=f"matching_auto_{diagnosed}",
        help=_("A recommendation this confident is applied without an operator."),
    )
    review = review_col.slider(
        _("Offer for confirmation at or above"),
        0.0,
        1.0,
        float(report.thresholds.review),
        0.01,
        key=f"matching_review_{diagnosed}",
        help=_("Below this the operator decides without a default; above it they confirm."),
    )
    try:
        effect = diagnostics.what_if(report.predictions, auto, review)
    except ProvisioningError:
        effect = None
        st.error(_("The confirmation threshold cannot be above the automatic one."))
    if effect is not None:
        shares = st.columns(4)
        shares[0].metric(
            _("Applied automatically"),
            insights.percent(effect["auto_share"]),
            help=_("{orders} of the decided orders.").format(
                orders=fmt_number(effect["auto_orders"])
            ),
        )
        shares[1].metric(
            _("Right among those"),
            insights.percent(effect["auto_precision"]) if effect["auto_share"] else "—",
            help=_("The measured precision of the automatic share: how often it picks right."),
        )
        shares[2].metric(_("Offered for confirmation"), insights.percent(effect["confirm_share"]))
        shares[3].metric(_("Left to an operator"), insights.percent(effect["operator_share"]))
        automatic, confirmation = _("Automatic threshold"), _("Confirmation threshold")
        st.plotly_chart(
            charts.coverage_curve(
                report.curve,
                [
                    (automatic, effect["auto_share"], effect["auto_precision"]),
                    (confirmation, effect["offered_share"], effect["offered_accuracy"]),
                ],
            ),
            key="matching_coverage",
        )
        calibration_col, pr_col = st.columns(2)
        calibration_col.plotly_chart(
            charts.reliability(report.reliability), key="matching_reliability"
        )
        pr_col.plotly_chart(
            charts.precision_recall(
                report.curve,
                [
                    (automatic, effect["auto_recall"], effect["auto_precision"]),
                    (confirmation, effect["offered_recall"], effect["offered_accuracy"]),
                ],
            ),
            key="matching_precision_recall",
        )

# --- blind reviews --------------------------------------------------------------------
st.subheader(_("Agreement with blind reviews"))
blind = insights.blind_review_agreement(url, viewer)
if not blind["reviews"]:
    st.info(
        _(
            "No blind reviews yet. Operators record them on the Order page for a sample of "
            "orders, choosing before they see the model's pick."
        )
    )
else:
    blind_tiles = st.columns(4)
    blind_tiles[0].metric(_("Blind reviews"), fmt_number(blind["reviews"]))
    blind_tiles[1].metric(
        _("Model agreed"),
        insights.percent(blind["model_agreed"]),
        help=_("Share of blind reviews where the model picked what the operator picked unseen."),
    )
    blind_tiles[2].metric(
        _("Operators right"),
        insights.percent(blind.get("operator_accuracy")),
        help=_("Of the reviewed orders decided since, the blind pick was the final organization."),
    )
    blind_tiles[3].metric(
        _("Operators overridden"),
        fmt_number(blind["operators_overridden"]),
        help=_("Decided orders whose final organization differs from the blind pick."),
    )

# --- misses ---------------------------------------------------------------------------
if report.orders:
    st.subheader(_("Orders the model got wrong"))
if report.misses:
    st.caption(
        _("Listed: {shown} of {total}, most confident first.").format(
            shown=fmt_number(len(report.misses)), total=fmt_number(report.misses_total)
        )
    )
    st.dataframe(insights.misses_frame(report.misses), hide_index=True, key="matching_misses")
elif report.orders:
    st.success(_("The model picked the decided organization for every decided order."))
