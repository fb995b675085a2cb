"""The languages foundation: every message shown is translated, every stored value has a
label, and dates, numbers and names follow each language's conventions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from pathlib import Path
from string import Formatter

import pytest
from babel.messages.extract import extract_from_file

from provisioning import i18n
from provisioning.errors import InvalidInput
from provisioning.i18n import catalog
from provisioning.states import (
    ApprovalStatus,
    Decision,
    Intent,
    OrderState,
    PartnerRole,
    ServiceState,
)

ROOT = Path(__file__).resolve().parents[2]
# Every module of the product: any of them may show catalogue text with `_()` / `N_()`.
MESSAGE_SOURCES = tuple(
    str(path.relative_to(ROOT))
    for package in ("provisioning", "dashboard")
    for path in sorted((ROOT / package).rglob("*.py"))
)
KEYWORDS = {"_": None, "N_": None}


def _msgids_used() -> dict[str, list[str]]:
    """msgid -> the files using it, read from the source the way `pybabel extract` does."""
    used: dict[str, list[str]] = {}
    for source in MESSAGE_SOURCES:
        for _line, msgid, _comments, _context in extract_from_file(
            "python", ROOT / source, keywords=KEYWORDS
        ):
            used.setdefault(msgid, []).append(source)
    return used


def _fields(text: str) -> set[str]:
    return {field for _lit, field, _spec, _conv in Formatter().parse(text) if field is not None}


# --- catalogue --------------------------------------------------------------------------


def test_extraction_finds_the_documents_messages() -> None:
    used = _msgids_used()
    assert "Order summary" in used
    assert "Page {page} of {pages}" in used
    assert "Provisioning Administrator" in used
    assert len(used) > 80


def test_every_message_used_has_a_swedish_translation() -> None:
    catalog = i18n.load_catalog("sv")
    missing = [
        msgid
        for msgid in _msgids_used()
        if catalog.get(msgid) is None or not catalog[msgid].string or catalog[msgid].fuzzy
    ]
    assert missing == [], f"translate these in sv/LC_MESSAGES/messages.po: {missing}"


def test_catalogue_has_no_stale_or_fuzzy_entries() -> None:
    used = _msgids_used()
    catalog = i18n.load_catalog("sv")
    stale = [message.id for message in catalog if message.id and message.id not in used]
    fuzzy = [message.id for message in catalog if message.id and message.fuzzy]
    assert stale == [], f"no source uses these any more: {stale}"
    assert fuzzy == []


def test_translations_keep_the_placeholders() -> None:
    for message in i18n.load_catalog("sv"):
        if message.id:
            assert _fields(message.string) == _fields(message.id), message.id


def test_english_is_the_source_text_and_swedish_is_translated() -> None:
    assert i18n.gettext_for("en")("Order summary") == "Order summary"
    assert i18n.gettext_for("sv")("Order summary") == "Beställningssammanfattning"
    assert i18n.gettext_for("sv")("Page {page} of {pages}").format(page=1, pages=2) == "Sida 1 av 2"
    assert i18n.gettext_for("sv")("a message nobody wrote") == "a message nobody wrote"


def test_fuzzy_translations_never_reach_a_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    po = tmp_path / "messages.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        '#, fuzzy\nmsgid "Order summary"\nmsgstr "Gissad översättning"\n\n'
        'msgid "Yes"\nmsgstr "Ja"\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(catalog, "catalog_files", lambda lang: [po])
    catalog.translator.cache_clear()
    try:
        gettext = i18n.gettext_for("sv")
        assert gettext("Yes") == "Ja"
        assert gettext("Order summary") == "Order summary"
    finally:
        catalog.translator.cache_clear()  # the next test compiles the real catalogue


def test_translations_are_compiled_once_per_language() -> None:
    assert i18n.translator("sv") is i18n.translator("sv")
    assert i18n.translator("sv") is not i18n.translator("en")


@pytest.mark.parametrize(
    "call",
    [
        lambda: i18n.translator("de"),
        lambda: i18n.gettext_for("sv-SE"),
        lambda: i18n.format_date(date(2025, 3, 2), "fr"),
        lambda: i18n.format_number(1, "SV"),
        lambda: i18n.label(i18n.ORDER_STATES, "complete", "no"),
        lambda: i18n.label(i18n.ORDER_STATES, "not-a-state", "no"),
        lambda: i18n.country_name(None, "da"),
    ],
)
def test_unknown_language_is_refused(call: Callable[[], object]) -> None:
    with pytest.raises(InvalidInput) as refused:
        call()
    assert [error.field for error in refused.value.errors] == ["lang"]


# --- labels -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vocabulary", "values"),
    [
        (i18n.ORDER_STATES, OrderState),
        (i18n.SERVICE_STATES, ServiceState),
        (i18n.INTENTS, Intent),
        (i18n.PARTNER_ROLES, PartnerRole),
        (i18n.DECISIONS, Decision),
        (i18n.APPROVAL_STATUSES, ApprovalStatus),
    ],
)
def test_every_stored_value_has_a_label(
    vocabulary: Mapping[str, str], values: type[StrEnum]
) -> None:
    assert set(vocabulary) == {value.value for value in values}


def test_every_finder_vocabulary_has_a_label() -> None:
    """The finder's words (matching/) as the app shows them: a new feature, outcome, status
    or industry without a label fails here rather than showing raw."""
    from matching.features import FEATURE_NAMES
    from matching.scorer import Review
    from matching.vocabulary import DomainStatus, OrgStatus, Outcome
    from provisioning.rules import INDUSTRY_VERTICALS

    assert set(i18n.FEATURES) == set(FEATURE_NAMES)
    assert set(i18n.OUTCOMES) == set(i18n.OUTCOME_SENTENCES) == {o.value for o in Outcome}
    assert set(i18n.REVIEWS) == {r.value for r in Review}
    assert set(i18n.DOMAIN_STATUSES) == {s.value for s in DomainStatus}
    assert set(i18n.ORG_STATUSES) == {s.value for s in OrgStatus}
    assert set(i18n.INDUSTRIES) == set(INDUSTRY_VERTICALS)


def test_every_audit_action_has_a_label() -> None:
    # Imported here: `provisioning.orders` loads the whole service layer (and the matcher),
    # seconds that the rest of this module does not need.
    from provisioning.orders.workflow import Action

    assert set(i18n.AUDIT_ACTIONS) == {action.value for action in Action}


@pytest.mark.parametrize(
    ("vocabulary", "value", "en", "sv"),
    [
        (i18n.ORDER_STATES, "awaiting_approval", "Waiting for the organization's approval",
         "Väntar på godkännande från organisationen"),
        (i18n.SERVICE_STATES, "configure_later", "Configure later", "Konfigurera senare"),
        (i18n.SERVICE_STATES, "customer_self_setup", "Customer sets up",
         "Kunden konfigurerar själv"),
        (i18n.INTENTS, "own-company", "For the buyer's own company", "För köparens eget företag"),
        (i18n.PARTNER_ROLES, "provisioning_administrator", "Provisioning Administrator",
         "Provisioneringsadministratör"),
        (i18n.DECISIONS, "chose_other", "Another organization chosen",
         "En annan organisation valdes"),
        (i18n.AUDIT_ACTIONS, "order.welcome_resent", "Sent the welcome e-mail again",
         "Skickade välkomstmeddelandet igen"),
        (i18n.USER_MANAGEMENT, "control_hub", "Control Hub", "Control Hub"),
    ],
)  # fmt: skip
def test_labels_in_both_languages(
    vocabulary: Mapping[str, str], value: str, en: str, sv: str
) -> None:
    assert i18n.label(vocabulary, value, "en") == en
    assert i18n.label(vocabulary, value, "sv") == sv


def test_unknown_value_is_shown_raw_and_none_stays_none() -> None:
    assert i18n.label(i18n.AUDIT_ACTIONS, "order.teleported", "sv") == "order.teleported"
    assert i18n.label(i18n.ORDER_STATES, None, "sv") is None


# --- formatting -------------------------------------------------------------------------

MOMENT = datetime(2025, 3, 2, 14, 5, 33, tzinfo=UTC)


@pytest.mark.parametrize(
    ("lang", "day", "moment"),
    [("en", "2 Mar 2025", "2 Mar 2025, 14:05 UTC"), ("sv", "2 mars 2025", "2 mars 2025 14:05 UTC")],
)
def test_dates_follow_the_language(lang: str, day: str, moment: str) -> None:
    assert i18n.format_date(MOMENT, lang) == day
    assert i18n.format_date(MOMENT.date(), lang) == day
    assert i18n.format_datetime(MOMENT, lang) == moment


def test_times_are_shown_in_utc_whatever_zone_they_come_in() -> None:
    stockholm_evening = datetime(2025, 3, 2, 23, 30, tzinfo=timezone(timedelta(hours=1)))
    assert i18n.format_datetime(stockholm_evening, "en") == "2 Mar 2025, 22:30 UTC"
    sydney_morning = datetime(2025, 3, 3, 7, 0, tzinfo=timezone(timedelta(hours=11)))
    assert i18n.format_date(sydney_morning, "sv") == "2 mars 2025"
    assert i18n.format_datetime(MOMENT.replace(tzinfo=None), "en") == "2 Mar 2025, 14:05 UTC"


def test_numbers_follow_the_language() -> None:
    assert i18n.format_number(1250, "en") == "1,250"
    assert i18n.format_number(1250, "sv") == "1\xa0250"  # a no-break space: never wraps


@pytest.mark.parametrize(
    ("code", "en", "sv"),
    [
        ("SE", "Sweden", "Sverige"),
        ("dk", "Denmark", "Danmark"),
        ("QQ", "QQ", "QQ"),
        (None, None, None),
    ],
)
def test_country_names(code: str | None, en: str | None, sv: str | None) -> None:
    assert i18n.country_name(code, "en") == en
    assert i18n.country_name(code, "sv") == sv


@pytest.mark.parametrize(
    ("tag", "en", "sv"),
    [
        ("sv_SE", "Swedish (Sweden)", "svenska (Sverige)"),
        ("en-US", "English (United States)", "engelska (USA)"),
        ("nb_NO", "Norwegian Bokmål (Norway)", "norskt bokmål (Norge)"),
        ("xx_QQ", "xx_QQ", "xx_QQ"),
    ],
)
def test_language_names(tag: str, en: str, sv: str) -> None:
    assert i18n.language_name(tag, "en") == en
    assert i18n.language_name(tag, "sv") == sv


def test_the_catalogue_is_every_po_file_and_they_must_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    header = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
    documents, app = tmp_path / "messages.po", tmp_path / "dashboard.po"
    documents.write_text(header + 'msgid "Yes"\nmsgstr "Ja"\n', encoding="utf-8")
    app.write_text(header + 'msgid "Queue"\nmsgstr "Kö"\n', encoding="utf-8")
    monkeypatch.setattr(catalog, "catalog_files", lambda lang: [app, documents])
    merged = i18n.load_catalog("sv")
    assert (merged["Yes"].string, merged["Queue"].string) == ("Ja", "Kö")
    app.write_text(header + 'msgid "Yes"\nmsgstr "Jo"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="translated differently"):
        i18n.load_catalog("sv")
