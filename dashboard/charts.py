"""Plotly figures for the backlog and matching pages, built from plain data.

Every figure has a title, axis titles with their unit, and labels in the reader's
language, so a chart makes sense on its own (a screenshot in an e-mail, a printed
report). The builders never query anything: pages hand them the rows a service returned.
Dates on axes stay ISO (plotly formats them), numbers follow plotly's own locale.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from dashboard.i18n import _, label
from provisioning import i18n
from provisioning.reports.backlog import AGE_BANDS, OPEN_STATES

TOP = 15  # partners / countries per breakdown: more bars are no longer readable

# One colour per state, the same on every chart, so a reader learns them once.
STATE_COLOURS: Mapping[str, str] = {
    "awaiting_intent": "#9ecae1",
    "delegated": "#fdae6b",
    "awaiting_org": "#3182bd",
    "awaiting_approval": "#756bb1",
    "org_mapped": "#31a354",
    "complete": "#636363",
    "expired": "#de2d26",
    "pending": "#3182bd",
    "provisioned": "#31a354",
    "configure_later": "#e6550d",
    "customer_self_setup": "#a1d99b",
}
_FALLBACK_COLOUR = "#969696"
# Legends sit at the foot of the figure (container coordinates: plotly makes room for
# them below the axis title, whatever the figure's height), where long state names fit.
_LAYOUT: dict[str, Any] = {
    "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
    "legend": {
        "orientation": "h",
        "yref": "container",
        "yanchor": "bottom",
        "y": 0,
        "x": 0,
        "traceorder": "normal",
    },
    "hovermode": "closest",
}


def _figure(title: str, x_title: str, y_title: str) -> go.Figure:
    figure = go.Figure()
    figure.update_layout(
        title={"text": title, "y": 0.98, "yanchor": "top"},
        xaxis_title=x_title,
        yaxis_title=y_title,
        **_LAYOUT,
    )
    return figure


def state_bars(by_state: Mapping[str, int], configure_later: int, self_setup: int) -> go.Figure:
    """Open orders per state, then the mapped orders whose services wait: "configure
    later" and "customer sets up" are parts of the mapped bar, drawn apart (hatched)
    because a manager chases them differently. Horizontal: state names are long."""
    figure = _figure(_("Open orders by state"), _("Orders"), _("State"))
    figure.add_bar(
        y=[label(i18n.ORDER_STATES, s) for s in OPEN_STATES],
        x=[by_state.get(s, 0) for s in OPEN_STATES],
        orientation="h",
        marker_color=[STATE_COLOURS[s] for s in OPEN_STATES],
        name=_("Orders in this state"),
        hovertemplate="%{y}: %{x}<extra></extra>",
    )
    parts = {"configure_later": configure_later, "customer_self_setup": self_setup}
    figure.add_bar(
        y=[label(i18n.SERVICE_STATES, s) for s in parts],
        x=list(parts.values()),
        orientation="h",
        marker_color=[STATE_COLOURS[s] for s in parts],
        marker_pattern_shape="/",
        name=_("Mapped orders with a service waiting"),
        hovertemplate="%{y}: %{x}<extra></extra>",
    )
    figure.update_layout(showlegend=True, barmode="overlay")
    figure.update_yaxes(autorange="reversed")
    return figure


def band_label(low: int, high: int | None) -> str:
    """An age band as compact tick text ("7–14", "60+"): the axis title gives the unit,
    and short ticks stay level in a half-width chart."""
    return f"{low}+" if high is None else f"{low}–{high}"


def age_bands(rows: Sequence[Mapping[str, Any]], sla_days: int) -> go.Figure:
    """Open orders per age band, stacked by state, with the SLA as a vertical line placed
    inside its band in proportion (an SLA of 10 days sits 3/7 of the way into 7–14)."""
    bands = [band_label(low, high) for low, high in AGE_BANDS]
    figure = _figure(
        _("Age of open orders"), _("Age since the order was placed (days)"), _("Orders")
    )
    present = {r["state"] for r in rows}
    for state in [s for s in OPEN_STATES if s in present] + sorted(present - set(OPEN_STATES)):
        counts = {r["low_days"]: r["orders"] for r in rows if r["state"] == state}
        figure.add_bar(
            x=bands,
            y=[counts.get(low, 0) for low, _high in AGE_BANDS],
            name=label(i18n.ORDER_STATES, state),
            marker_color=STATE_COLOURS.get(state, _FALLBACK_COLOUR),
        )
    figure.update_layout(barmode="stack")
    figure.update_xaxes(categoryorder="array", categoryarray=bands)
    figure.add_vline(
        x=_sla_position(sla_days),
        line_dash="dash",
        line_color="#de2d26",
        annotation_text=_("SLA: {days} days").format(days=sla_days),
        annotation_position="top right",
    )
    return figure


def _sla_position(sla_days: int) -> float:
    """Where `sla_days` falls on the categorical band axis (band i spans i-0.5 … i+0.5)."""
    for index, (low, high) in enumerate(AGE_BANDS):
        if high is None:  # open-ended: from its start, at most to its middle
            return index - 0.5 + min(0.5, (sla_days - low) / (2 * low or 1))
        if sla_days < high:
            return index - 0.5 + max(0, sla_days - low) / (high - low)
    return len(AGE_BANDS) - 0.5


def weekly_trend(rows: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Orders opened and completed per week: the backlog grows while the first line is
    above the second."""
    weeks = [r["week"].date().isoformat() for r in rows]
    figure = _figure(
        _("Orders opened and completed per week"),
        _("Week (starting Monday)"),
        _("Orders per week"),
    )
    for key, name, colour in (
        ("opened", _("Opened"), STATE_COLOURS["awaiting_org"]),
        ("completed", _("Completed"), STATE_COLOURS["org_mapped"]),
    ):
        figure.add_scatter(
            x=weeks,
            y=[r[key] for r in rows],
            mode="lines+markers",
            name=name,
            line={"color": colour},
        )
    figure.update_xaxes(type="category")
    return figure


# The finder's answer at decision time, as the model-work chart stacks it.
REVIEW_COLOURS: Mapping[str, str] = {
    "auto": "#31a354",
    "confirm": "#3182bd",
    "operator": "#fdae6b",
    "unrecorded": _FALLBACK_COLOUR,
}


def model_work(rows: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Orders decided per week, stacked by what the finder had answered: the green part
    is the work the model took off operators (a confident answer they only checked).
    Rows are `provisioning.reports.backlog.model_work(...).weeks`."""
    weeks = [r["week"].date().isoformat() for r in rows]
    figure = _figure(
        _("Decisions per week by the model's answer"),
        _("Week (starting Monday)"),
        _("Orders decided"),
    )
    names = {
        "auto": _("Confident matches"),
        "confirm": _("Offered for confirmation"),
        "operator": _("Left to an operator"),
        "unrecorded": _("No answer recorded"),
    }
    for key, name in names.items():
        counts = [r[key] for r in rows]
        if key == "unrecorded" and not any(counts):
            continue
        figure.add_bar(x=weeks, y=counts, name=name, marker_color=REVIEW_COLOURS[key])
    figure.update_layout(barmode="stack")
    figure.update_xaxes(type="category")
    return figure


def breakdown_bars(
    rows: Sequence[Mapping[str, Any]],
    title: str,
    axis_title: str,
    key_label: Callable[[Any, Any], str],
    stack_label: Callable[[str], str],
    stack_key: str = "state",
) -> go.Figure:
    """Open orders per partner / service / country (the `TOP` largest), stacked by state.

    Rows are a `provisioning.reports.backlog.breakdown`: `key`, `label`, `state`, `orders`,
    largest key first. Horizontal bars, because partner names are long.
    """
    totals: dict[Any, int] = {}
    names: dict[Any, str] = {}
    for row in rows:
        totals[row["key"]] = totals.get(row["key"], 0) + row["orders"]
        names[row["key"]] = key_label(row["key"], row["label"])
    keys = sorted(totals, key=lambda k: (-totals[k], str(k)))[:TOP]
    figure = _figure(title, _("Open orders"), axis_title)
    known = list(STATE_COLOURS)  # workflow order: the stack reads like the process
    stacks = sorted(
        {r[stack_key] for r in rows},
        key=lambda v: (v not in known, known.index(v) if v in known else 0, v),
    )
    for stacked in stacks:
        counts: dict[Any, int] = {}
        for row in rows:
            if row[stack_key] == stacked:
                counts[row["key"]] = counts.get(row["key"], 0) + row["orders"]
        figure.add_bar(
            y=[names[k] for k in keys],
            x=[counts.get(k, 0) for k in keys],
            orientation="h",
            name=stack_label(stacked),
            marker_color=STATE_COLOURS.get(stacked, _FALLBACK_COLOUR),
        )
    figure.update_layout(barmode="stack", height=max(300, 80 + 28 * len(keys)))
    figure.update_yaxes(categoryorder="array", categoryarray=[names[k] for k in keys][::-1])
    return figure


def coverage_curve(
    points: Sequence[Mapping[str, float]],
    marks: Sequence[tuple[str, float, float]],
) -> go.Figure:
    """Accuracy of the model's answer against the share of orders answered, as the
    confidence threshold falls; `marks` are (name, coverage, accuracy) of the chosen
    thresholds."""
    figure = _figure(
        _("Accuracy–coverage curve"),
        _("Orders answered at or above the threshold (%)"),
        _("Of those, answered right (%)"),
    )
    figure.add_scatter(
        x=[p["coverage"] * 100 for p in points],
        y=[p["precision"] * 100 for p in points],
        customdata=[p["threshold"] for p in points],
        mode="lines",
        name=_("All thresholds"),
        hovertemplate=_("threshold %{customdata:.3f}: %{x:.1f}% of orders, %{y:.1f}% right")
        + "<extra></extra>",
    )
    _add_marks(figure, marks)
    figure.update_xaxes(range=[0, 101])
    return figure


def precision_recall(
    points: Sequence[Mapping[str, float]], marks: Sequence[tuple[str, float, float]]
) -> go.Figure:
    """Precision against recall of "the model's answer is right", thresholded on its
    confidence; `marks` are (name, recall, precision) of the chosen thresholds."""
    figure = _figure(_("Precision–recall"), _("Recall (%)"), _("Precision (%)"))
    figure.add_scatter(
        x=[p["recall"] * 100 for p in points],
        y=[p["precision"] * 100 for p in points],
        customdata=[p["threshold"] for p in points],
        mode="lines",
        name=_("All thresholds"),
        hovertemplate=_("threshold %{customdata:.3f}: recall %{x:.1f}%, precision %{y:.1f}%")
        + "<extra></extra>",
    )
    _add_marks(figure, marks)
    figure.update_xaxes(range=[0, 101])
    return figure


def _add_marks(figure: go.Figure, marks: Sequence[tuple[str, float, float]]) -> None:
    for name, x, y in marks:
        figure.add_scatter(
            x=[x * 100],
            y=[y * 100],
            mode="markers",
            marker={"size": 12, "symbol": "diamond"},
            name=name,
            hovertemplate=f"{name}: %{{x:.1f}}%, %{{y:.1f}}%<extra></extra>",
        )


def reliability(bins: Sequence[Mapping[str, float]]) -> go.Figure:
    """Stated confidence against observed accuracy per confidence bin (marker area:
    orders in the bin). On the diagonal the model means what it says; below it, it is
    over-confident."""
    figure = _figure(
        _("Reliability (calibration)"),
        _("Confidence the model stated (%)"),
        _("Orders it got right (%)"),
    )
    figure.add_scatter(
        x=[0, 100],
        y=[0, 100],
        mode="lines",
        line={"dash": "dot", "color": _FALLBACK_COLOUR},
        name=_("Perfectly calibrated"),
        hoverinfo="skip",
    )
    largest = max((b["orders"] for b in bins), default=1)
    figure.add_scatter(
        x=[b["confidence"] * 100 for b in bins],
        y=[b["accuracy"] * 100 for b in bins],
        customdata=[int(b["orders"]) for b in bins],
        mode="lines+markers",
        marker={"size": [8 + 22 * (b["orders"] / largest) ** 0.5 for b in bins]},
        name=_("This model"),
        hovertemplate=_("stated %{x:.1f}%, right %{y:.1f}% of %{customdata} orders")
        + "<extra></extra>",
    )
    figure.update_xaxes(range=[0, 101])
    figure.update_yaxes(range=[0, 101])
    return figure
