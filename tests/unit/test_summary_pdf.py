"""The order summary PDF reads right in English and Swedish, keeps every letter, embeds its
font and is byte-for-byte reproducible. Assertions are on the text pypdf extracts, i.e. on
what a customer (or a screen reader) gets out of the document.
"""

from __future__ import annotations

import logging
import pickle
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache
from io import BytesIO
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from provisioning.db import Database
from provisioning.demo.seed import create_demo
from provisioning.demo.world import WorldParams
from provisioning.errors import InvalidInput
from provisioning.models import Order
from provisioning.orders import load_summary
from provisioning.orders.summary import (
    HistoryEntry,
    LicenceLine,
    LocationSummary,
    OrderSummary,
    ServiceSummary,
    SiteSummary,
)
from provisioning.orders.summary_pdf import render_summary

LONG_EMAIL = (
    "bjørn.ærøskøbing-müller.provisioning-team@sjoberg-media-international-holdings.example"
)
LONG_NAME = (
    "Sjöberg Media AB — Søndre Ærø Müller Łódź Straße Société Générale "
    "Nordic Broadcasting and Publishing Holdings"
)


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


def _complete() -> OrderSummary:
    """Sjöberg Media AB: both services provisioned, two Meetings sites, one Calling HQ."""
    meetings = ServiceSummary(
        service="meetings",
        state="provisioned",
        licences=1250,
        trial_conversion=True,
        addon=False,
        sites=[
            SiteSummary("sjobergmedia", "Europe/Stockholm", True, 1000, "control_hub"),
            SiteSummary("sjobergmedia-oslo", "Europe/Oslo", False, 250, "site_admin"),
        ],
        updated_by="bjørn.ærø@sjobergmedia.se",
        provisioned_at=_at(4, 8, 30),
    )
    calling = ServiceSummary(
        service="calling",
        state="provisioned",
        licences=120,
        trial_conversion=False,
        addon=True,
        locations=[
            LocationSummary(
                name="Huvudkontor Göteborg",
                country="SE",
                timezone="Europe/Stockholm",
                preferred_language="sv_SE",
                announcement_language="en_GB",
                address_line1="Södra Hamngatan 37",
                address_line2="Våning 4",
                city="Göteborg",
                postal_code="411 06",
                state_code=None,
                sip_address="sjobergmedia.calls.webex.com",
            ),
            LocationSummary(
                name="Filial Łódź",
                country="PL",
                timezone="Europe/Warsaw",
                preferred_language="pl_PL",
                announcement_language="pl_PL",
                address_line1="ul. Piotrkowska 1",
                address_line2=None,
                city="Łódź",
                postal_code="90-001",
                state_code=None,
                sip_address=None,
                is_main=False,
            ),
        ],
        updated_by="Jürgen Weiß",
        provisioned_at=_at(4, 9, 10),
    )
    return OrderSummary(
        order_id="SUB-2025-004711",
        placed_at=_at(2, 9, 15),
        state="complete",
        company_name="Sjöberg Media AB",
        provisioning_email="bjørn.ærø@sjobergmedia.se",
        country="SE",
        partner_id="P-100",
        partner_name="Nordlys Partner A/S (Søren Ærø-Müller)",
        intent="customer",
        delegate_email=None,
        org_id="b5f0c3a2-9d1e-4c7a-8f3b-2e6d1a0c9f77",
        org_name="Sjöberg Media AB",
        org_country="SE",
        new_org=False,
        decision="accepted",
        decided_by="åsa.lindqvist@onboarding.example",
        decided_at=_at(3, 10, 0),
        mapped_at=_at(3, 10, 1),
        customer_admin_email=None,
        partner_role="provisioning_administrator",
        lines=[
            LicenceLine("meetings", 250, is_trial_conversion=False, is_addon=False),
            LicenceLine("meetings", 1000, is_trial_conversion=True, is_addon=False),
            LicenceLine("calling", 120, is_trial_conversion=False, is_addon=True),
        ],
        services=[meetings, calling],
        history=[
            # Deliberately out of order: the PDF tells the story chronologically.
            HistoryEntry(_at(3, 10, 1), "åsa.lindqvist@onboarding.example", "order.map"),
            HistoryEntry(_at(2, 9, 20), "bjørn.ærø@sjobergmedia.se", "order.intent"),
            HistoryEntry(_at(4, 8, 30), "bjørn.ærø@sjobergmedia.se", "order.meetings"),
            HistoryEntry(_at(4, 9, 10), "Jürgen Weiß", "order.calling"),
            HistoryEntry(_at(4, 9, 11), "system", "order.complete"),
            HistoryEntry(_at(4, 9, 12), "system", "order.archived_by_robot"),
        ],
        generated_at=_at(5, 12, 0),
    )


def _configure_later() -> OrderSummary:
    """Meetings handed to the customer, Calling left for later; long texts that must wrap."""
    base = _complete()
    meetings = ServiceSummary("meetings", "customer_self_setup", 1250, True, False)
    calling = ServiceSummary("calling", "configure_later", 120, False, True)
    return replace(
        base,
        order_id="SUB-2025-004712",
        state="org_mapped",
        company_name=LONG_NAME,
        provisioning_email=LONG_EMAIL,
        customer_admin_email="it-admin@sjobergmedia.se",
        services=[meetings, calling],
        history=[
            HistoryEntry(_at(3, 10, 1), "åsa.lindqvist@onboarding.example", "order.map"),
            HistoryEntry(_at(3, 11, 0), "bjørn.ærø@sjobergmedia.se", "order.self_setup"),
            HistoryEntry(_at(3, 11, 5), "bjørn.ærø@sjobergmedia.se", "order.configure_later"),
        ],
    )


def _new_org() -> OrderSummary:
    """No existing org fitted: one was created; the partner is full administrator there."""
    base = _complete()
    return replace(
        base,
        order_id="SUB-2025-004713",
        state="org_mapped",
        company_name="Fjällräven Ölbryggeri AB",
        org_id="0d6c9a11-new",
        org_name="Fjällräven Ölbryggeri AB",
        new_org=True,
        decision="created_org",
        partner_role="full_administrator",
        services=[ServiceSummary("meetings", "pending", 250, False, False)],
        lines=[LicenceLine("meetings", 250, is_trial_conversion=False, is_addon=False)],
        history=[HistoryEntry(_at(3, 12, 0), "ops@onboarding.example", "order.create_org")],
    )


def _unmapped() -> OrderSummary:
    """Delegated, no organization yet, nothing happened yet."""
    base = _complete()
    return replace(
        base,
        order_id="SUB-2025-004714",
        state="delegated",
        intent="delegate",
        delegate_email="it@sjobergmedia.se",
        org_id=None,
        org_name=None,
        org_country=None,
        decision=None,
        decided_by=None,
        decided_at=None,
        mapped_at=None,
        partner_role=None,
        lines=[],
        services=[],
        history=[],
    )


def _long_history() -> OrderSummary:
    """Enough events that the history table runs over pages."""
    events = [
        HistoryEntry(_at(2, 9) + timedelta(hours=i), "ops@onboarding.example", "order.at_risk")
        for i in range(60)
    ]
    return replace(_complete(), history=events)


# One name per script the product may meet. Arabic and Hebrew run right to left.
SCRIPTS = {
    "Japanese": "株式会社テスト",
    "Chinese": "北京科技有限公司",
    "Korean": "주식회사 한국",
    "Arabic": "شركة الاختبار",
    "Hebrew": "חברת בדיקה",
    "Thai": "บริษัท ทดสอบ",
    "Devanagari": "परीक्षण कंपनी",
    "Cyrillic": "ООО Тест",
    "Greek": "Δοκιμή ΑΕ",
    "Latin": "Sjöberg Ærø Łódź Weiß",
}
RIGHT_TO_LEFT = {"Arabic", "Hebrew"}


def _every_script() -> OrderSummary:
    """Company, organization, partner, main location, sites and history in every script."""
    base = _complete()
    meetings, calling = base.services
    names = list(SCRIPTS.values())
    sites = [SiteSummary(name, "Asia/Tokyo", False, 10, "control_hub") for name in names]
    location = replace(
        calling.locations[0],
        name=SCRIPTS["Arabic"],
        address_line1=f"{SCRIPTS['Thai']} 12",
        address_line2=SCRIPTS["Devanagari"],
        city=SCRIPTS["Hebrew"],
    )
    return replace(
        base,
        order_id="SUB-2025-004715",
        company_name=SCRIPTS["Japanese"],
        org_name=SCRIPTS["Chinese"],
        partner_name=f"{SCRIPTS['Korean']} IT Services",
        services=[replace(meetings, sites=sites), replace(calling, locations=[location])],
        history=[HistoryEntry(_at(3, 10, n), name, "order.map") for n, name in enumerate(names)],
    )


SUMMARIES = {
    "complete": _complete,
    "every_script": _every_script,
    "configure_later": _configure_later,
    "new_org": _new_org,
    "unmapped": _unmapped,
    "long_history": _long_history,
}


@cache
def _pdf(name: str, lang: str) -> bytes:
    """Each document is rendered once per test run: rendering costs a few hundred ms."""
    return render_summary(SUMMARIES[name](), lang)


@cache
def _pages(name: str, lang: str) -> tuple[str, ...]:
    """Extracted once per test run too: extraction costs about as much as rendering."""
    return tuple(page.extract_text() for page in PdfReader(BytesIO(_pdf(name, lang))).pages)


def _text(name: str, lang: str) -> str:
    """The whole document with runs of whitespace (line ends, no-break spaces) as one space."""
    return " ".join(" ".join(_pages(name, lang)).split())


# --- content ----------------------------------------------------------------------------


def test_english_complete_order_reads_right() -> None:
    text = _text("complete", "en")
    for expected in (
        "ONBOARDING DESK",
        "Order summary",
        "Order ID Status As of SUB-2025-004711 Complete 5 Mar 2025, 12:00 UTC",
        "Placed 2 Mar 2025, 09:15 UTC",
        "Company Sjöberg Media AB",
        "Country or region Sweden",
        "Provisioning e-mail bjørn.ærø@sjobergmedia.se",
        "Ordering partner Nordlys Partner A/S (Søren Ærø-Müller) (P-100)",
        "Who the order is for For a customer",
        "Organization ID b5f0c3a2-9d1e-4c7a-8f3b-2e6d1a0c9f77",
        "Type Existing organization",
        "How it was chosen Recommended organization accepted",
        "Chosen by åsa.lindqvist@onboarding.example",
        "Mapped on 3 Mar 2025, 10:01 UTC",
        "Partner's role Provisioning Administrator",
        "Summary of changes Service Licences Trial conversion Add-on",
        "Webex Meetings 1,000 Yes No",
        "Webex Calling 120 No Yes",
        "Status Provisioned Licences 1,250",
        "https://sjobergmedia.webex.com Europe/Stockholm Yes Control Hub 1,000",
        "https://sjobergmedia-oslo.webex.com Europe/Oslo No Site Administration 250",
        "Total 1,250",
        "Main location Location name Huvudkontor Göteborg",
        "Preferred language Swedish (Sweden)",
        "Announcement language English (United Kingdom)",
        "Address Södra Hamngatan 37 Våning 4 411 06 Göteborg",
        "SIP address sjobergmedia.calls.webex.com",
        "History When Who What",
        "All times are in UTC.",
    ):
        assert expected in text, expected
    assert "Filial Łódź" not in text  # only the main location is the order's to show


def test_swedish_complete_order_reads_right() -> None:
    text = _text("complete", "sv")
    for expected in (
        "Beställningssammanfattning",
        "Order-id Status Gäller per SUB-2025-004711 Slutförd 5 mars 2025 12:00 UTC",
        "Beställd 2 mars 2025 09:15 UTC",
        "Företag Sjöberg Media AB",
        "Land eller region Sverige",
        "E-postadress för provisionering bjørn.ærø@sjobergmedia.se",
        "Beställande partner Nordlys Partner A/S",
        "Beställningen gäller För en kund",
        "Organisations-id b5f0c3a2-9d1e-4c7a-8f3b-2e6d1a0c9f77",
        "Typ Befintlig organisation",
        "Så valdes den Den rekommenderade organisationen accepterades",
        "Kopplad den 3 mars 2025 10:01 UTC",
        "Partnerns roll Provisioneringsadministratör",
        "Sammanfattning av ändringar Tjänst Licenser Konvertering av provperiod Tillägg",
        "Webex Meetings 1 000 Ja Nej",
        "Status Provisionerad Licenser 1 250",
        "Webex-webbplatser Webbplats-URL Tidszon Tidig version Användare hanteras i Licenser",
        "https://sjobergmedia-oslo.webex.com Europe/Oslo Nej Webbplatsadministration 250",
        "Totalt 1 250",
        "Huvudkontorets plats Platsnamn Huvudkontor Göteborg",
        "Föredraget språk svenska (Sverige)",
        "Meddelandespråk engelska (Storbritannien)",
        "SIP-adress sjobergmedia.calls.webex.com",
        "Historik När Vem Vad",
        "Alla tider anges i UTC.",
    ):
        assert expected in text, expected
    for english in ("Order summary", "Licences", "Country or region", "History", "Page "):
        assert english not in text, f"untranslated: {english}"


def test_history_is_chronological_with_translated_actions_and_unknown_ones_raw() -> None:
    en = _text("complete", "en")
    sv = _text("complete", "sv")
    assert (
        "2 Mar 2025, 09:20 UTC bjørn.ærø@sjobergmedia.se Stated who the order is for "
        "3 Mar 2025, 10:01 UTC åsa.lindqvist@onboarding.example Mapped the order to an "
        "organization"
    ) in en
    assert "Jürgen Weiß Set up Webex Calling" in en
    assert "system All services set up" in en
    assert "2 mars 2025 09:20 UTC bjørn.ærø@sjobergmedia.se Angav vem beställningen gäller" in sv
    assert "Jürgen Weiß Konfigurerade Webex Calling" in sv
    assert "system Alla tjänster konfigurerade" in sv
    assert "system order.archived_by_robot" in en
    assert "system order.archived_by_robot" in sv


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "en",
            (
                "Status Customer sets up",
                "The customer sets up this service: their administrator was sent an e-mail "
                "to continue in Control Hub.",
                "Status Configure later",
                "Configure later was chosen: this service is not provisioned yet and can be "
                "set up in Control Hub at any time.",
                "Customer administrator it-admin@sjobergmedia.se",
                "Handed the service setup to the customer",
                "Chose to configure a service later",
                "SUB-2025-004712 Mapped to an organization",
            ),
        ),
        (
            "sv",
            (
                "Status Kunden konfigurerar själv",
                "Kunden konfigurerar den här tjänsten själv: kundens administratör har fått "
                "ett e-postmeddelande för att fortsätta i Control Hub.",
                "Status Konfigurera senare",
                "Konfigurera senare valdes: tjänsten är ännu inte provisionerad och kan "
                "konfigureras i Control Hub när som helst.",
                "Kundadministratör it-admin@sjobergmedia.se",
                "Lämnade över tjänstekonfigurationen till kunden",
                "Valde att konfigurera en tjänst senare",
                "SUB-2025-004712 Kopplad till en organisation",
            ),
        ),
    ],
)
def test_services_not_provisioned_are_explained(lang: str, expected: tuple[str, ...]) -> None:
    text = _text("configure_later", lang)
    for sentence in expected:
        assert sentence in text, sentence
    assert "webex.com" not in text  # no site was set up


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "en",
            (
                "Type New organization, created for this order",
                "How it was chosen New organization created",
                "Partner's role Full Administrator",
                "Status Not set up yet",
                "This service has not been set up yet.",
                "Created a new organization",
            ),
        ),
        (
            "sv",
            (
                "Typ Ny organisation, skapad för den här beställningen",
                "Så valdes den En ny organisation skapades",
                "Partnerns roll Fullständig administratör",
                "Status Inte konfigurerad än",
                "Den här tjänsten har inte konfigurerats än.",
                "Skapade en ny organisation",
            ),
        ),
    ],
)
def test_new_organization(lang: str, expected: tuple[str, ...]) -> None:
    text = _text("new_org", lang)
    for sentence in expected:
        assert sentence in text, sentence
    assert "Fjällräven Ölbryggeri AB" in text


def test_order_without_organization_says_so() -> None:
    text = _text("unmapped", "en")
    assert "SUB-2025-004714 Delegated to someone else" in text
    assert "Who the order is for Completed by someone else" in text
    assert "Delegated to it@sjobergmedia.se" in text
    assert "The order is not mapped to an organization yet." in text
    assert "The order brings no licence changes." in text
    assert "No events recorded." in text
    assert "Organization ID" not in text


# --- typography -------------------------------------------------------------------------


def test_letters_beyond_latin_1_survive() -> None:
    text = _text("configure_later", "sv")
    for name in ("Sjöberg", "Søndre", "Ærø", "Müller", "Łódź", "Straße", "Société", "Générale"):
        assert name in text, name
    assert "Jürgen Weiß" in _text("complete", "en")


def _squashed(text: str) -> str:
    return "".join(text.split())


def _as_extracted(name: str, right_to_left: bool) -> str:
    """`name` as pypdf gives it back, whitespace aside (pypdf guesses word gaps from glyph
    positions and puts one inside कंपनी, after the anusvara). A right-to-left name comes
    back in visual order: each word with its letters in reading order, the words reversed
    (the bidi algorithm set them right to left)."""
    return _squashed(" ".join(reversed(name.split())) if right_to_left else name)


@pytest.mark.parametrize("script", list(SCRIPTS))
def test_names_in_every_script_come_back_out(script: str) -> None:
    name = SCRIPTS[script]
    shown = _as_extracted(name, script in RIGHT_TO_LEFT)
    text = _squashed(_text("every_script", "en"))
    # Each name also has its own field (the street line ends "12", the postal code is
    # "411 06"): company, organization, partner, the main location's name and address.
    field = {
        "Japanese": "Company{}Country",
        "Chinese": "Organization Name{}Organization ID",
        "Korean": "Ordering partner{}IT Services (P-100)",
        "Arabic": "Location name{}Country",
        "Thai": "Address{}12",
        "Devanagari": "12{}411 06",
        "Hebrew": "411 06{}SIP address",
    }.get(script)
    if field is not None:
        assert _squashed(field).format(shown) in text, field
    assert f"https://{shown}.webex.com" in text, name
    rows = [
        _squashed(line)
        for page in _pages("every_script", "en")
        for line in page.splitlines()
        if line.endswith("Mapped the order to an organization")
    ]
    assert any(f"UTC{shown}Mapped" in row for row in rows), (name, rows)


def test_right_to_left_names_are_set_right_to_left() -> None:
    """The words of an Arabic or Hebrew name are laid out right to left, so pypdf, which
    reads left to right, gives them reversed, each word's letters in reading order (the
    joined Arabic forms map back to the letters typed)."""
    text = _text("every_script", "en")
    assert "Location name الاختبار شركة" in text
    assert "בדיקה חברת" in text


def test_no_character_is_left_without_a_glyph(caplog: pytest.LogCaptureFixture) -> None:
    # fpdf2 logs each character its font lacks and prints nothing for it.
    with caplog.at_level(logging.WARNING, logger="fpdf"):
        render_summary(_every_script(), "sv")
    assert not [r.getMessage() for r in caplog.records if "missing" in r.getMessage()]


def test_every_script_font_is_embedded_and_only_when_needed() -> None:
    reader = PdfReader(BytesIO(_pdf("every_script", "en")))
    names = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
            assert "/FontFile2" in descriptor, "the TrueType program must be embedded"
            names.add(str(font["/BaseFont"]).split("+", 1)[-1])
    assert names == {
        "DejaVuSansBook",
        "DejaVuSansBold",
        "NotoSansArabic",
        "NotoSansHebrew",
        "NotoSansThai",
        "NotoSansDevanagari",
        "DroidSansFallback",
    }
    # Only the fonts a document needs go in (each costs load time and bytes).
    only_cjk = replace(_complete(), company_name=SCRIPTS["Korean"])
    reader = PdfReader(BytesIO(render_summary(only_cjk, "en")))
    fonts = {
        str(font.get_object()["/BaseFont"]).split("+", 1)[-1]
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert fonts == {"DejaVuSansBook", "DejaVuSansBold", "DroidSansFallback"}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('pdf-demo') / 'demo.sqlite'}")
    db.ensure_schema()
    create_demo(db, WorldParams(orgs=200, seed=3, now=_at(1, 8)), "demo@example.com")
    yield db
    db.dispose()


JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def test_a_demo_worlds_japanese_names_print(demo_db: Database) -> None:
    """The demo's Japanese companies (and partners such as "有限会社… IT Services") print,
    whole, where they used to come out blank."""
    seen = 0
    with demo_db.read() as session:
        order_ids = session.scalars(select(Order.order_id).order_by(Order.order_id)).all()
        summaries = [load_summary(session, order_id) for order_id in order_ids]
    for summary in summaries:
        names = [summary.company_name, summary.org_name, summary.partner_name]
        japanese = [name for name in names if name and JAPANESE.search(name)]
        if not japanese:
            continue
        text = " ".join(
            page.extract_text() for page in PdfReader(BytesIO(render_summary(summary))).pages
        )
        for name in japanese:
            assert _squashed(name) in _squashed(text), (summary.order_id, name)
        seen += 1
    assert seen >= 2  # a company of its own and a partner's name, at least


def test_long_texts_wrap_inside_the_page() -> None:
    pages = "\n".join(_pages("configure_later", "en"))
    lines = pages.splitlines()
    # Neither the company name nor the e-mail fits one line: both are wrapped, not cut.
    assert not any(LONG_EMAIL in line for line in lines)
    assert LONG_EMAIL in "".join(lines)
    assert not any(LONG_NAME in line for line in lines)
    assert f"Company {LONG_NAME}" in _text("configure_later", "en")


def test_fonts_are_the_embedded_dejavu_sans() -> None:
    reader = PdfReader(BytesIO(_pdf("complete", "sv")))
    names = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
            assert "/FontFile2" in descriptor, "the TrueType program must be embedded"
            names.add(str(font["/BaseFont"]).split("+", 1)[-1])
    assert names == {"DejaVuSansBook", "DejaVuSansBold"}


# --- pages ------------------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "words"), [("en", "Page {} of {}"), ("sv", "Sida {} av {}")])
def test_every_page_is_numbered(lang: str, words: str) -> None:
    pages = _pages("complete", lang)
    assert len(pages) >= 2
    for number, text in enumerate(pages, start=1):
        assert words.format(number, len(pages)) in text


def test_a_long_history_repeats_its_headings_on_every_page() -> None:
    pages = _pages("long_history", "en")
    history_pages = [text for text in pages if "Warned that the order is close" in text]
    assert len(history_pages) >= 2
    for text in history_pages:
        assert re.search(r"^When Who What$", text, flags=re.MULTILINE), text[:200]
    assert _text("long_history", "en").count("Warned that the order is close") == 60


# --- contract ---------------------------------------------------------------------------


def test_same_summary_gives_identical_bytes() -> None:
    first = render_summary(_complete(), "en")
    assert first == _pdf("complete", "en")
    assert first.startswith(b"%PDF-")
    assert _pdf("complete", "en") != _pdf("complete", "sv")


# Reads a pickled summary on stdin, writes its PDF to stdout: only the product's code.
_RENDER = """
import pickle, sys
from provisioning.orders.summary_pdf import render_summary
sys.stdout.buffer.write(render_summary(pickle.load(sys.stdin.buffer), "sv"))
"""


def test_identical_bytes_in_separate_processes() -> None:
    """Nothing in the document comes from the process: no clock, no random subset tag,
    no font or object order from hashing (two different hash seeds)."""
    root = Path(__file__).resolve().parents[2]
    outputs = [
        subprocess.run(
            [sys.executable, "-c", _RENDER],
            input=pickle.dumps(_every_script()),
            cwd=root,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            check=True,
            timeout=120,
        ).stdout
        for seed in ("1", "2")
    ]
    assert outputs[0] == outputs[1] == _pdf("every_script", "sv")


def test_summary_loaded_twice_gives_the_same_document(demo_db: Database) -> None:
    """`orders summary` run twice makes the same file: the summary is as of the order's
    last change, not of the moment it was read."""
    with demo_db.read() as session:
        order_id = session.scalars(
            select(Order.order_id).where(Order.state == "complete").order_by(Order.order_id)
        ).first()
        assert order_id is not None
        first = load_summary(session, order_id)
    with demo_db.read() as session:
        second = load_summary(session, order_id)
    assert first.generated_at == second.generated_at
    assert first.generated_at >= max([first.placed_at, *(event.at for event in first.history)])
    assert render_summary(first) == render_summary(second)


def test_document_metadata_names_the_order_and_language() -> None:
    reader = PdfReader(BytesIO(_pdf("complete", "sv")))
    assert reader.metadata is not None
    assert reader.metadata.title == "Beställningssammanfattning SUB-2025-004711"
    assert reader.metadata.creation_date == _at(5, 12, 0)
    assert reader.trailer["/Root"]["/Lang"] == "sv"


@pytest.mark.parametrize("lang", ["de", "EN", "sv_SE", ""])
def test_unknown_language_is_refused(lang: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        render_summary(_complete(), lang)
    assert [error.field for error in refused.value.errors] == ["lang"]
    assert "en, sv" in str(refused.value)
