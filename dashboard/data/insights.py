"""Read models of the backlog, matching and audit pages: cached service answers, and the
tables, CSV files and percentages made from them in the reader's language.

Cached functions take the database URL, the viewer and plain filter values (so two
databases, two people or two filters never share an entry; every read is checked against
the viewer's role) and return the services' plain data; nothing cached depends on the
language, so an English and a Swedish reading of the same person share every entry. The
table and CSV builders below them are cheap and run on every rerun.

TTLs follow how fast each figure goes stale and what it costs: the backlog moves by the
minute, the audit trail by the second, while the matching diagnostics rank the whole
history (seconds on a big desk) and only change when the history or the model does.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import pandas as pd
import streamlit as st
from babel import Locale
from babel.numbers import format_percent

from dashboard.data import checked_database, database
from dashboard.i18n import current_language
from provisioning import audit, i18n
from provisioning.access import Actor, Permission
from provisioning.db import Database
from provisioning.finder import DEFAULT_VERSION, blind_review
from provisioning.finder import diagnostics as model_diagnostics
from provisioning.finder import watch as model_watch
from provisioning.finder.versions import VersionSummary
from provisioning.finder.versions import model_versions as stored_versions
from provisioning.reports import backlog
from provisioning.reports.backlog import BacklogFilter

BACKLOG_TTL = 60
CHOICES_TTL = 300
AUDIT_TTL = 15
MODELS_TTL = 60
DIAGNOSTICS_TTL = 600
TREND_WEEKS = 12
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# --- formatting and CSV ---------------------------------------------------------------


def percent(value: float | None, lang: str | None = None) -> str:
    """`95.4%` / `95,4 %`: one decimal, the locale's own percent pattern; "—" for none."""
    if value is None:
        return "—"
    locale = Locale.parse(i18n.BABEL_LOCALES[lang or current_language()])
    pattern = locale.percent_formats[None].pattern
    last_digit = pattern.rfind("0")
    one_decimal = pattern[: last_digit + 1] + ".0" + pattern[last_digit + 1 :]
    return format_percent(value, format=one_decimal, locale=locale)


def safe_cell(value: Any) -> Any:
    """A text cell a spreadsheet will show rather than execute; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """UTF-8 CSV with a byte-order mark (Excel then reads å, ä, ö right), every text
    cell made formula-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(h) for h in header])
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


def _iso(value: date | datetime | None) -> str:
    return value.isoformat() if value is not None else ""


# --- backlog --------------------------------------------------------------------------


@st.cache_data(ttl=BACKLOG_TTL, show_spinner=False)
def backlog_view(
    url: str,
    viewer: Actor,
    sla_days: int,
    idle_days: int,
    partner: str | None = None,
    service: str | None = None,
    country: str | None = None,
) -> backlog.BacklogView:
    where = BacklogFilter(partner_id=partner, service=service, country=country)
    return backlog.view_for(database(url), viewer, sla_days, idle_days, where, TREND_WEEKS)


@st.cache_data(ttl=CHOICES_TTL, show_spinner=False)
def backlog_choices(url: str, viewer: Actor) -> backlog.BacklogChoices:
    """Filter values that have open orders behind them (an empty choice helps nobody)."""
    return backlog.choices_for(database(url), viewer)


def queue_params(
    state: str, partner: str | None, service: str | None, country: str | None
) -> dict[str, str]:
    """The Queue page's query parameters for one bucket of the backlog under its filter."""
    wanted = {"state": state, "partner": partner, "service": service, "country": country}
    return {key: value for key, value in wanted.items() if value}


def _stale_table(
    rows: Sequence[Mapping[str, Any]], lang: str, when: Callable[[Any], str]
) -> tuple[list[str], list[list[Any]]]:
    _ = i18n.gettext_for(lang)
    header = [
        _("Order ID"),
        _("Company"),
        _("Ordering partner"),
        _("State"),
        _("Delegated to"),
        _("Placed"),
        _("Last change"),
        _("Days untouched"),
        _("At risk"),
    ]
    body = [
        [
            row["order_id"],
            row["company_name"],
            row["partner_name"] or "",
            i18n.label(i18n.ORDER_STATES, row["state"], lang),
            row["delegate_email"] or "",
            when(row["placed_at"]),
            when(row["state_changed_at"]),
            row["idle_days"],
            _("Yes") if row["at_risk"] else _("No"),
        ]
        for row in rows
    ]
    return header, body


def stale_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The orders to chase, as the page shows them (dates in the reader's format)."""
    lang = current_language()
    header, body = _stale_table(rows, lang, lambda d: i18n.format_date(d, lang))
    return pd.DataFrame(body, columns=header)


def stale_csv(rows: Sequence[Mapping[str, Any]], lang: str) -> bytes:
    """The same orders for a spreadsheet: headings in the reader's language, ISO times."""
    return csv_bytes(*_stale_table(rows, lang, _iso))


# --- matching -------------------------------------------------------------------------


@st.cache_data(ttl=MODELS_TTL, show_spinner=False)
def model_versions(url: str, viewer: Actor) -> list[VersionSummary]:
    return stored_versions(checked_database(url, viewer, Permission.READ_MODELS))


def diagnostics(url: str, viewer: Actor, version: int | str) -> model_diagnostics.Diagnostics:
    """The decided history measured with `version`, for a viewer who may read models."""
    return _diagnostics(checked_database(url, viewer, Permission.READ_MODELS), version)


@st.cache_resource(
    ttl=DIAGNOSTICS_TTL, show_spinner=False, hash_funcs={Database: lambda db: db.url}
)
def _diagnostics(db: Database, version: int | str) -> model_diagnostics.Diagnostics:
    """Ranks every decided order once per database, version and 10 minutes.

    A resource, not data: the report holds an answer per decided order, and `cache_data`
    would unpickle a fresh copy of it on every rerun (seconds, for 30k orders); the
    report is frozen and never mutated, so every session can share the one object. It
    is the same for every reader (the permission is checked before it is looked up, and
    no partner role may read models), so it is not keyed by the viewer.
    """
    return model_diagnostics.diagnostics(db, version)


def diagnosable_versions(versions: Sequence[VersionSummary]) -> list[int | str]:
    """The shipped model first (what a fresh install uses), then the stored versions."""
    return [DEFAULT_VERSION, *(v.version for v in versions)]


def active_version(versions: Sequence[VersionSummary]) -> int | str:
    """The version the app matches with: the active one, or the shipped model."""
    return next((v.version for v in versions if v.active), DEFAULT_VERSION)


@st.cache_data(ttl=MODELS_TTL, show_spinner=False)
def in_production(url: str, viewer: Actor, version: int | str) -> model_watch.InProduction:
    """How `version`'s confident answers held up on the decisions since it was activated."""
    return model_watch.in_production_for(database(url), viewer, version)


@st.cache_data(ttl=MODELS_TTL, show_spinner=False)
def blind_review_agreement(url: str, viewer: Actor) -> dict[str, Any]:
    return blind_review.agreement_for(database(url), viewer)


def versions_frame(versions: Sequence[VersionSummary]) -> pd.DataFrame:
    lang = current_language()
    _ = i18n.gettext_for(lang)
    rows = []
    for v in versions:
        scores = v.held_out
        rows.append(
            {
                _("Version"): str(v.version),
                _("Active"): "✓" if v.active else "",
                _("Trained"): i18n.format_date(v.created_at, lang),
                _("Trained by"): v.created_by,
                _("Decided orders"): _number(v.trained_on, lang),
                _("Held-out orders"): _number(v.held_out_orders, lang),
                _("Accuracy"): percent(scores["accuracy"], lang),
                _("Precision at 1"): percent(scores["precision_at_1"], lang),
                _("Recall at 5"): percent(scores["recall_at_5"], lang),
                _("New-org precision"): percent(scores["new_org_precision"], lang),
                _("New-org recall"): percent(scores["new_org_recall"], lang),
                _("Brier score"): _decimal(scores["brier"], lang),
                _("Automatic at"): _decimal(v.thresholds.get("auto"), lang),
                _("Confirm at"): _decimal(v.thresholds.get("review"), lang),
            }
        )
    return pd.DataFrame(rows)


def misses_frame(misses: Sequence[model_diagnostics.Miss]) -> pd.DataFrame:
    lang = current_language()
    _ = i18n.gettext_for(lang)
    new_org = _("A new organization")
    rows = [
        {
            _("Order ID"): m.order_id,
            _("Company"): m.company_name,
            _("Decided organization"): _org(m.decided_org_id, m.decided_org_name, new_org),
            _("Model's pick"): _org(m.predicted_org_id, m.predicted_org_name, new_org),
            _("Confidence"): percent(m.confidence, lang),
            _("The thresholds would have"): i18n.label(
                model_diagnostics.REVIEW_MODES, m.review, lang
            ),
            _("Rank of the decided organization"): _number(m.decided_rank, lang) or "—",
            _("Evidence the model saw"): "; ".join(m.evidence),
        }
        for m in misses
    ]
    return pd.DataFrame(rows)


def _org(org_id: str | None, name: str | None, new_org: str) -> str:
    if org_id is None:
        return new_org
    return f"{name} ({org_id})" if name else org_id


def _number(value: float | None, lang: str) -> str:
    return i18n.format_number(value, lang) if value is not None else ""


def _decimal(value: float | None, lang: str) -> str:
    return i18n.format_number(round(value, 3), lang) if value is not None else "—"


# --- audit ----------------------------------------------------------------------------


@st.cache_data(ttl=AUDIT_TTL, show_spinner=False)
def audit_choices(url: str, viewer: Actor) -> audit.AuditChoices:
    return audit.choices(checked_database(url, viewer, Permission.READ_AUDIT), viewer)


@st.cache_data(ttl=AUDIT_TTL, show_spinner=False)
def audit_page(url: str, viewer: Actor, where: audit.AuditFilter, page: int) -> audit.AuditPage:
    db = checked_database(url, viewer, Permission.READ_AUDIT)
    return audit.list_events(db, where, page, viewer=viewer)


def _audit_table(
    entries: Sequence[audit.AuditEntry], lang: str, when: Callable[[datetime], str]
) -> tuple[list[str], list[list[str]]]:
    _ = i18n.gettext_for(lang)
    header = [
        _("When"),
        _("Who"),
        _("Role"),
        _("What"),
        _("Record"),
        _("Record ID"),
        _("Changes"),
    ]
    body = [
        [
            when(entry.at),
            entry.actor,
            i18n.label(audit.ROLES, entry.role, lang) if entry.role else "",
            i18n.label(audit.ACTIONS, entry.action, lang),
            i18n.label(audit.ENTITY_TYPES, entry.entity_type, lang),
            entry.entity_id,
            "; ".join(
                f"{c.field}: {audit.compact(c.before)} → {audit.compact(c.after)}"
                for c in entry.changes
            ),
        ]
        for entry in entries
    ]
    return header, body


def audit_frame(entries: Sequence[audit.AuditEntry]) -> pd.DataFrame:
    lang = current_language()
    header, body = _audit_table(entries, lang, lambda at: i18n.format_datetime(at, lang))
    return pd.DataFrame(body, columns=header)


def audit_csv(url: str, viewer: Actor, where: audit.AuditFilter, lang: str) -> Callable[[], bytes]:
    """Every event under the filter (not only the page shown), times in ISO UTC.

    Made only when the person clicks the download button, outside the script run: the
    permission is checked now, and the callable keeps the database and the language
    rather than reading them from the session later."""
    db = checked_database(url, viewer, Permission.READ_AUDIT)

    def render() -> bytes:
        entries = audit.export_events(db, where, viewer=viewer)
        return csv_bytes(*_audit_table(entries, lang, _iso))

    return render
