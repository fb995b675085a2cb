"""The order summary PDF: the document a customer keeps of what their order set up.

It renders the `OrderSummary` read model only, so it never touches the database and the
same summary always gives the same bytes, in any process (the creation date is the
summary's own `generated_at`, by default the order's last change). Text goes through the
gettext catalogue and Babel (`provisioning.i18n`). The fonts are vendored in
`provisioning/fonts/` (the PDF core fonts are Latin-1 only): DejaVu Sans for Latin,
Cyrillic and Greek, and for the names in other scripts the fallback fonts below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime
from functools import cache
from importlib.resources import as_file, files

from fontTools.ttLib import TTFont
from fpdf import FPDF, FontFace
from fpdf.enums import Align, TableBordersLayout, TableCellFillMode, VAlign, XPos, YPos

from provisioning.i18n import (
    AUDIT_ACTIONS,
    DECISIONS,
    INTENTS,
    ORDER_STATES,
    PARTNER_ROLES,
    SERVICE_STATES,
    SERVICES,
    USER_MANAGEMENT,
    check_language,
    country_name,
    format_datetime,
    format_number,
    gettext_for,
    label,
    language_name,
)
from provisioning.orders.summary import (
    HistoryEntry,
    LocationSummary,
    OrderSummary,
    ServiceSummary,
    SiteSummary,
)
from provisioning.states import ServiceState

PRODUCT = "Onboarding Desk"
FONT_FAMILY = "DejaVuSans"
_FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
# The scripts DejaVu Sans lacks each have a font of their own, consulted in this order for
# a character the font in use lacks; `True` where the script needs shaping (joining, right
# to left, reordered vowels, stacked marks). Regular weights only: bold text in these
# scripts is set in the regular face rather than dropped. Droid Sans Fallback carries Han,
# kana and Hangul (TrueType outlines, so fpdf2 subsets and embeds it like the others).
_FALLBACK_FONTS: dict[str, tuple[str, bool]] = {
    "NotoSansArabic": ("NotoSansArabic-Regular.ttf", True),
    "NotoSansHebrew": ("NotoSansHebrew-Regular.ttf", True),
    "NotoSansThai": ("NotoSansThai-Regular.ttf", True),
    "NotoSansDevanagari": ("NotoSansDevanagari-Regular.ttf", True),
    "DroidSansFallback": ("DroidSansFallback.ttf", False),
}
# DejaVu Sans has most Arabic and Hebrew letters but not all (Urdu's ے and ہ, Hebrew
# points), and a word set in two fonts loses its joining: when Noto's Arabic or Hebrew is
# in the document, DejaVu Sans keeps only these ranges, i.e. everything but Hebrew, Arabic
# and their presentation forms (its highest code point is U+1F643).
_DEJAVU_WITHOUT_RTL = (
    (0x0000, 0x058F),
    (0x0700, 0x074F),
    (0x0780, 0x086F),
    (0x0900, 0xFB1C),
    (0xFE00, 0xFE6F),
    (0xFEFF, 0x1FFFF),
)
_RTL_FONTS = frozenset({"NotoSansArabic", "NotoSansHebrew"})
# fpdf2 replaces this alias with the page count when the document is closed; an unusual
# spelling so that no customer text is ever mistaken for it.
_PAGE_COUNT_ALIAS = "{onboard-total-pages}"

_INK = (33, 37, 41)
_MUTED = (96, 104, 112)
_ACCENT = (0, 92, 138)
_RULE = (196, 205, 214)
_HEADING_FILL = (234, 240, 245)

_BODY_SIZE = 9.0
_LINE = 4.6  # mm per line of body text
_PADDING = (1.3, 1.7, 1.3, 1.7)  # top, right, bottom, left, in mm
_LABEL_STYLE = FontFace(color=_MUTED)
_HEADINGS_STYLE = FontFace(emphasis="BOLD", color=_INK, fill_color=_HEADING_FILL)
_TOTAL_STYLE = FontFace(emphasis="BOLD")


@dataclass(frozen=True, slots=True)
class _Context:
    """What every section needs: the summary, its language and the language's words."""

    summary: OrderSummary
    lang: str
    gettext: Callable[[str], str]

    def when(self, value: datetime | None) -> str | None:
        return None if value is None else format_datetime(value, self.lang)

    def yes_no(self, flag: bool) -> str:
        _ = self.gettext
        return _("Yes") if flag else _("No")


class _SummaryPDF(FPDF):
    """A4 pages with the running header from page 2 on and the page number in the footer."""

    def __init__(self, ctx: _Context) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self._ctx = ctx

    def header(self) -> None:
        if self.page_no() == 1:
            return
        _ = self._ctx.gettext
        self.set_font(FONT_FAMILY, "", 7.5)
        self.set_text_color(*_MUTED)
        running = f"{PRODUCT} · {_('Order summary')} · {self._ctx.summary.order_id}"
        self.cell(0, 4, running, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self._rule()
        self.ln(4)

    def footer(self) -> None:
        _ = self._ctx.gettext
        self.set_y(-13)
        self._rule()
        self.ln(1.5)
        self.set_font(FONT_FAMILY, "", 7.5)
        self.set_text_color(*_MUTED)
        # The page number goes left: its width is measured before the page count is known,
        # so right-aligning it would leave it short of the margin.
        page = _("Page {page} of {pages}").format(page=self.page_no(), pages=_PAGE_COUNT_ALIAS)
        self.cell(self.epw / 2, 4, page)
        self.cell(self.epw / 2, 4, f"{PRODUCT} · {self._ctx.summary.order_id}", align=Align.R)

    def _rule(self) -> None:
        self.set_draw_color(*_RULE)
        self.set_line_width(0.2)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())


def render_summary(summary: OrderSummary, lang: str = "en") -> bytes:
    """The order summary as PDF bytes in `lang` (`en` or `sv`; anything else is refused)."""
    ctx = _Context(summary, check_language(lang), gettext_for(lang))
    pdf = _new_document(ctx)
    _title(pdf, ctx)
    _order_section(pdf, ctx)
    _organization_section(pdf, ctx)
    _changes_section(pdf, ctx)
    for service in summary.services:
        _service_section(pdf, ctx, service)
    _history_section(pdf, ctx)
    return bytes(pdf.output())


def _new_document(ctx: _Context) -> _SummaryPDF:
    _ = ctx.gettext
    pdf = _SummaryPDF(ctx)
    fallbacks = _fallbacks_for(ctx.summary)
    fonts = files("provisioning") / "fonts"
    coverage = _DEJAVU_WITHOUT_RTL if _RTL_FONTS & set(fallbacks) else None
    for style, name in _FONT_FILES.items():
        with as_file(fonts / name) as path:
            pdf.add_font(FONT_FAMILY, style, str(path), unicode_range=coverage)
    for family in fallbacks:
        with as_file(fonts / _FALLBACK_FONTS[family][0]) as path:
            pdf.add_font(family, "", str(path))
    if fallbacks:
        pdf.set_fallback_fonts(fallbacks, exact_match=False)
    if any(_FALLBACK_FONTS[family][1] for family in fallbacks):
        # HarfBuzz (uharfbuzz) sets these scripts as they are read; it is left off for
        # the rest, which it would only slow down.
        pdf.set_text_shaping(True)
    pdf.set_margins(left=18, top=16, right=18)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.alias_nb_pages(_PAGE_COUNT_ALIAS)
    pdf.set_creation_date(ctx.summary.generated_at)
    pdf.set_lang(ctx.lang)
    pdf.set_title(f"{_('Order summary')} {ctx.summary.order_id}")
    pdf.set_author(PRODUCT)
    pdf.set_creator(PRODUCT)
    pdf.add_page()
    return pdf


def _fallbacks_for(summary: OrderSummary) -> list[str]:
    """The fallback fonts the summary's text needs, in `_FALLBACK_FONTS` order. Only those
    are loaded: every font added is embedded, and Droid Sans Fallback alone takes a
    quarter of a second to load. The summary is all the document's own text; the rest
    (labels, dates, country names) is English or Swedish, which DejaVu Sans covers."""
    chars = {ord(char) for text in _texts(summary) for char in text}
    chars -= _cmap(_FONT_FILES[""]).keys() - _rtl_code_points()
    needed = []
    for family, (name, _shaped) in _FALLBACK_FONTS.items():
        found = chars & _cmap(name).keys()
        if found:
            needed.append(family)
            chars -= found
    return needed


def _texts(value: object) -> Iterator[str]:
    """Every string in a summary, however deep (lists of sites, locations, history)."""
    if isinstance(value, str):
        yield value
    elif is_dataclass(value) and not isinstance(value, type):
        for item in fields(value):
            if item.name != "details":  # an event's raw data, never printed
                yield from _texts(getattr(value, item.name))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)


@cache
def _cmap(name: str) -> dict[int, str]:
    """The code points a vendored font has (read once per process: only its cmap table)."""
    with as_file(files("provisioning") / "fonts" / name) as path, TTFont(path, lazy=True) as font:
        return dict(font.getBestCmap())


@cache
def _rtl_code_points() -> frozenset[int]:
    """What DejaVu Sans leaves to Noto's Arabic and Hebrew (see `_DEJAVU_WITHOUT_RTL`)."""
    kept = {code for low, high in _DEJAVU_WITHOUT_RTL for code in range(low, high + 1)}
    return frozenset(_cmap(_FONT_FILES[""]).keys() - kept)


# --- building blocks -------------------------------------------------------------------


def _body(pdf: FPDF) -> None:
    pdf.set_font(FONT_FAMILY, "", _BODY_SIZE)
    pdf.set_text_color(*_INK)


def _heading(pdf: FPDF, text: str, *, keep_with: float = 30) -> None:
    """A section title; it moves to the next page rather than end a page on its own."""
    if pdf.will_page_break(keep_with):
        pdf.add_page()
    pdf.ln(4)
    pdf.set_font(FONT_FAMILY, "B", 12)
    pdf.set_text_color(*_ACCENT)
    pdf.multi_cell(0, 6.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_draw_color(*_ACCENT)
    pdf.set_line_width(0.4)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(2)
    _body(pdf)


def _subheading(pdf: FPDF, text: str) -> None:
    if pdf.will_page_break(20):
        pdf.add_page()
    pdf.ln(2)
    pdf.set_font(FONT_FAMILY, "B", 10)
    pdf.set_text_color(*_INK)
    pdf.multi_cell(0, 5.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _body(pdf)


def _note(pdf: FPDF, text: str) -> None:
    """One explanatory sentence, set apart from the facts."""
    pdf.ln(1)
    pdf.set_font(FONT_FAMILY, "", _BODY_SIZE)
    pdf.set_text_color(*_MUTED)
    pdf.multi_cell(0, _LINE, text, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    _body(pdf)


def _facts(pdf: FPDF, rows: Sequence[tuple[str, str | None]]) -> None:
    """Label/value pairs; a value the order does not have is left out, not shown empty."""
    shown = [(key, value) for key, value in rows if value]
    if not shown:
        return
    _body(pdf)
    with pdf.table(
        col_widths=(34, 66),
        width=pdf.epw,
        align=Align.L,
        v_align=VAlign.T,
        first_row_as_headings=False,
        borders_layout=TableBordersLayout.NONE,
        text_align=Align.L,
        line_height=_LINE,
        padding=(0.9, 2.0, 0.9, 0.0),
    ) as table:
        for key, value in shown:
            row = table.row()
            row.cell(key, style=_LABEL_STYLE)
            row.cell(value)


def _text_width(pdf: FPDF, texts: Sequence[str], style: str, *, whole_lines: bool) -> float:
    """The widest line (or, with `whole_lines=False`, the widest single word) in mm."""
    pdf.set_font(FONT_FAMILY, style, _BODY_SIZE)
    pieces = [
        piece
        for text in texts
        for line in text.splitlines()
        for piece in ([line] if whole_lines else line.split())
    ]
    return max((pdf.get_string_width(piece) for piece in pieces), default=0.0)


def _column_widths(
    pdf: FPDF, headings: Sequence[str], rows: Sequence[Sequence[str]], bold: Sequence[Sequence[str]]
) -> list[float]:
    """Column widths fitted to the content, as a browser lays out an HTML table: every
    column first gets its longest word, so words (a Swedish compound, a site URL) are
    only cut when even that cannot fit; the space left goes to the columns whose text
    would otherwise wrap. Fixed widths cannot serve both languages and every customer."""
    padding = _PADDING[1] + _PADDING[3]

    def measure(index: int, whole_lines: bool) -> float:
        plain = [row[index] for row in rows]
        strong = [headings[index], *(row[index] for row in bold)]
        return padding + max(
            _text_width(pdf, plain, "", whole_lines=whole_lines),
            _text_width(pdf, strong, "B", whole_lines=whole_lines),
        )

    least = [measure(index, whole_lines=False) for index in range(len(headings))]
    natural = [measure(index, whole_lines=True) for index in range(len(headings))]
    room = pdf.epw
    if sum(least) >= room:
        return _capped(least, room)
    if sum(natural) <= room:
        return [width * room / sum(natural) for width in natural]
    share = (room - sum(least)) / (sum(natural) - sum(least))
    return [low + (high - low) * share for low, high in zip(least, natural, strict=True)]


def _capped(widths: Sequence[float], room: float) -> list[float]:
    """Narrow only the widest columns, to one common width, until the table fits: the
    word cut is then a long URL or e-mail address, not a short heading everyone reads."""
    ordered = sorted(widths, reverse=True)
    for count in range(1, len(ordered)):
        level = (room - sum(ordered[count:])) / count
        if level >= ordered[count]:
            return [min(width, level) for width in widths]
    return [room / len(widths)] * len(widths)


def _grid(
    pdf: FPDF,
    headings: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    align: Sequence[Align],
    total: Sequence[str] | None = None,
) -> None:
    """A table whose headings repeat on every page it runs over."""
    widths = _column_widths(pdf, headings, rows, [total] if total is not None else [])
    _body(pdf)
    with pdf.table(
        col_widths=tuple(widths),
        width=pdf.epw,
        align=Align.L,
        text_align=tuple(align),
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        headings_style=_HEADINGS_STYLE,
        cell_fill_mode=TableCellFillMode.NONE,
        line_height=_LINE,
        padding=_PADDING,
        repeat_headings=1,
    ) as table:
        pdf.set_draw_color(*_RULE)
        pdf.set_line_width(0.2)
        table.row(list(headings))
        for cells in rows:
            table.row(list(cells))
        if total is not None:
            table.row(list(total), style=_TOTAL_STYLE)
    pdf.ln(1)


# --- sections --------------------------------------------------------------------------


def _title(pdf: FPDF, ctx: _Context) -> None:
    _ = ctx.gettext
    summary = ctx.summary
    pdf.set_font(FONT_FAMILY, "B", 9)
    pdf.set_text_color(*_ACCENT)
    pdf.cell(0, 5, PRODUCT.upper(), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_FAMILY, "B", 20)
    pdf.set_text_color(*_INK)
    pdf.multi_cell(0, 10, _("Order summary"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.set_font(FONT_FAMILY, "", _BODY_SIZE)
    with pdf.table(
        col_widths=(34, 36, 30),
        width=pdf.epw,
        align=Align.L,
        v_align=VAlign.T,
        text_align=Align.L,
        borders_layout=TableBordersLayout.NONE,
        headings_style=FontFace(color=_MUTED, size_pt=7.5),
        line_height=_LINE,
        padding=(0.4, 2.0, 0.4, 0.0),
    ) as table:
        # "As of": the moment the summary describes (by default the order's last change).
        table.row([_("Order ID"), _("Status"), _("As of")])
        row = table.row(style=FontFace(emphasis="BOLD"))
        row.cell(summary.order_id)
        row.cell(label(ORDER_STATES, summary.state, ctx.lang))
        row.cell(format_datetime(summary.generated_at, ctx.lang))
    pdf.ln(1)


def _order_section(pdf: FPDF, ctx: _Context) -> None:
    _ = ctx.gettext
    summary = ctx.summary
    partner = summary.partner_name or summary.partner_id
    if summary.partner_name and summary.partner_id:
        partner = f"{summary.partner_name} ({summary.partner_id})"
    _heading(pdf, _("Order"))
    _facts(
        pdf,
        [
            (_("Placed"), ctx.when(summary.placed_at)),
            (_("Company"), summary.company_name),
            (_("Country or region"), country_name(summary.country, ctx.lang)),
            (_("Provisioning e-mail"), summary.provisioning_email),
            (_("Ordering partner"), partner),
            (_("Who the order is for"), label(INTENTS, summary.intent, ctx.lang)),
            (_("Delegated to"), summary.delegate_email),
        ],
    )


def _organization_section(pdf: FPDF, ctx: _Context) -> None:
    _ = ctx.gettext
    summary = ctx.summary
    _heading(pdf, _("Organization"))
    if summary.org_id is None:
        _note(pdf, _("The order is not mapped to an organization yet."))
        return
    kind = _("New organization, created for this order") if summary.new_org else None
    _facts(
        pdf,
        [
            (_("Name"), summary.org_name),
            (_("Organization ID"), summary.org_id),
            (_("Type"), kind or _("Existing organization")),
            (_("Country or region"), country_name(summary.org_country, ctx.lang)),
            (_("How it was chosen"), label(DECISIONS, summary.decision, ctx.lang)),
            (_("Chosen by"), summary.decided_by),
            (_("Chosen on"), ctx.when(summary.decided_at)),
            (_("Mapped on"), ctx.when(summary.mapped_at)),
            (_("Partner's role"), label(PARTNER_ROLES, summary.partner_role, ctx.lang)),
            (_("Customer administrator"), summary.customer_admin_email),
        ],
    )


def _changes_section(pdf: FPDF, ctx: _Context) -> None:
    _ = ctx.gettext
    _heading(pdf, _("Summary of changes"))
    if not ctx.summary.lines:
        _note(pdf, _("The order brings no licence changes."))
        return
    rows = [
        (
            SERVICES.get(line.service, line.service),
            format_number(line.quantity, ctx.lang),
            ctx.yes_no(line.is_trial_conversion),
            ctx.yes_no(line.is_addon),
        )
        for line in ctx.summary.lines
    ]
    _grid(
        pdf,
        [_("Service"), _("Licences"), _("Trial conversion"), _("Add-on")],
        rows,
        align=(Align.L, Align.R, Align.L, Align.L),
    )


def _state_note(ctx: _Context, state: str) -> str | None:
    """The one-sentence explanation of a service that is not (yet) provisioned."""
    _ = ctx.gettext
    # Literal `_()` calls, so the msgid extractor (and its test) sees every sentence.
    notes = {
        ServiceState.PENDING: _("This service has not been set up yet."),
        ServiceState.CONFIGURE_LATER: _(
            "Configure later was chosen: this service is not provisioned yet and can be set "
            "up in Control Hub at any time."
        ),
        ServiceState.CUSTOMER_SELF_SETUP: _(
            "The customer sets up this service: their administrator was sent an e-mail to "
            "continue in Control Hub."
        ),
    }
    return notes.get(state)


def _service_section(pdf: FPDF, ctx: _Context, service: ServiceSummary) -> None:
    _ = ctx.gettext
    _heading(pdf, SERVICES.get(service.service, service.service))
    _facts(
        pdf,
        [
            (_("Status"), label(SERVICE_STATES, service.state, ctx.lang)),
            (_("Licences"), format_number(service.licences, ctx.lang)),
            (_("Set up by"), service.updated_by),
            (_("Provisioned on"), ctx.when(service.provisioned_at)),
        ],
    )
    note = _state_note(ctx, service.state)
    if note is not None:
        _note(pdf, note)
    if service.sites:
        _sites(pdf, ctx, service.sites)
    location = service.location
    if location is not None:
        _location(pdf, ctx, location)


def _sites(pdf: FPDF, ctx: _Context, sites: Sequence[SiteSummary]) -> None:
    _ = ctx.gettext
    _subheading(pdf, _("Webex sites"))
    rows = [
        (
            site.url,
            site.timezone,
            ctx.yes_no(site.early_release),
            label(USER_MANAGEMENT, site.users_managed_in, ctx.lang),
            format_number(site.licences, ctx.lang),
        )
        for site in sites
    ]
    total = sum(site.licences for site in sites)
    _grid(
        pdf,
        [_("Site URL"), _("Time zone"), _("Early release"), _("Users managed in"), _("Licences")],
        rows,
        align=(Align.L, Align.L, Align.L, Align.L, Align.R),
        total=(_("Total"), "", "", "", format_number(total, ctx.lang)),
    )


def _location(pdf: FPDF, ctx: _Context, location: LocationSummary) -> None:
    _ = ctx.gettext
    _subheading(pdf, _("Main location"))
    address = [location.address_line1, location.address_line2]
    address.append(f"{location.postal_code} {location.city}".strip())
    address.append(location.state_code)
    _facts(
        pdf,
        [
            (_("Location name"), location.name),
            (_("Country or region"), country_name(location.country, ctx.lang)),
            (_("Time zone"), location.timezone),
            (_("Preferred language"), language_name(location.preferred_language, ctx.lang)),
            (_("Announcement language"), language_name(location.announcement_language, ctx.lang)),
            (_("Address"), "\n".join(line for line in address if line)),
            (_("SIP address"), location.sip_address),
        ],
    )


def _history_section(pdf: FPDF, ctx: _Context) -> None:
    _ = ctx.gettext
    _heading(pdf, _("History"))
    if not ctx.summary.history:
        _note(pdf, _("No events recorded."))
        return
    # Chronological whatever order the read model returned: a reader follows the story.
    entries: list[HistoryEntry] = sorted(ctx.summary.history, key=lambda entry: entry.at)
    rows = [
        (
            format_datetime(entry.at, ctx.lang),
            entry.actor,
            label(AUDIT_ACTIONS, entry.action, ctx.lang),
        )
        for entry in entries
    ]
    _grid(
        pdf,
        [_("When"), _("Who"), _("What")],
        rows,
        align=(Align.L, Align.L, Align.L),
    )
    pdf.set_text_color(*_MUTED)
    pdf.set_font(FONT_FAMILY, "", 7.5)
    pdf.multi_cell(0, 4, _("All times are in UTC."), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
