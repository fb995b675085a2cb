"""The app's language: chosen in the sidebar, kept in the session, used by every page.

Pages write `_("Queue")` and `fmt_date(value)`; both follow the language of the person
looking, through the product's catalogues (`provisioning.i18n`), so the app and the
order summary PDF say the same things the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

import streamlit as st

from provisioning import i18n

LANGUAGE_KEY = "ui_lang"
LANGUAGE_NAMES = {"en": "English", "sv": "Svenska"}


def current_language() -> str:
    lang = st.session_state.get(LANGUAGE_KEY, i18n.DEFAULT_LANGUAGE)
    return lang if lang in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE


def _(message: str) -> str:
    """`message` (English, the msgid) in the current language."""
    return i18n.gettext_for(current_language())(message)


def label(vocabulary: Mapping[str, str], value: str | None) -> str:
    """A stored value (a state, an action) as people call it, in the current language."""
    return i18n.label(vocabulary, value, current_language()) or ""


def fmt_date(value: date | datetime | None) -> str:
    return i18n.format_date(value, current_language()) if value is not None else ""


def fmt_datetime(value: datetime | None) -> str:
    return i18n.format_datetime(value, current_language()) if value is not None else ""


def fmt_number(value: float | None) -> str:
    return i18n.format_number(value, current_language()) if value is not None else ""
