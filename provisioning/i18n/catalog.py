"""The message catalogues: gettext `.po` files read and compiled in memory at run time.

Reading the `.po` source directly (with Babel) means there is no build step and no
compiled `.mo` file in the repository that can drift from its source: editing
a `.po` file under `locales/<lang>/LC_MESSAGES/` is the whole change. Compiling costs a few
milliseconds, once per language and process (`lru_cache`).

English is the source language: the msgids *are* the English text, so English needs no
catalogue and gets the identity translation.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from io import BytesIO

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from provisioning.errors import FieldError, InvalidInput

LANGUAGES: tuple[str, ...] = ("en", "sv")
DEFAULT_LANGUAGE = "en"
SOURCE_LANGUAGE = "en"
DOMAIN = "messages"


def check_language(lang: str) -> str:
    """Refuse a language we have no catalogue for, rather than silently falling back to
    English: a customer who asked for Swedish must not receive an English document."""
    if lang not in LANGUAGES:
        reason = f"unknown language; choose one of {', '.join(LANGUAGES)}"
        raise InvalidInput(FieldError("lang", reason, value=lang))
    return lang


def catalog_files(lang: str) -> list[Traversable]:
    """A language's `.po` files inside the installed package, in name order.

    One file per area of the product (`messages.po` for documents, `dashboard.po` for the
    app, …), so people adding text to different areas never edit the same file; they
    are read as one catalogue.
    """
    folder = files("provisioning.i18n") / "locales" / lang / "LC_MESSAGES"
    return sorted((f for f in folder.iterdir() if f.name.endswith(".po")), key=lambda f: f.name)


def load_catalog(lang: str) -> Catalog:
    """Every `.po` file of `lang` as one catalogue; tests use it to check every message is
    translated. A msgid translated differently in two files is an error, not a coin toss."""
    check_language(lang)
    merged = Catalog(locale=lang, domain=DOMAIN)
    for source in catalog_files(lang):
        with source.open("rb") as po:
            part = read_po(po, locale=lang, domain=DOMAIN)
        for message in part:
            if not message.id:
                continue
            known = merged.get(message.id)
            if known is not None and known.string != message.string:
                raise ValueError(f"{source.name}: {message.id!r} is already translated differently")
            merged[message.id] = message
    return merged


@lru_cache(maxsize=len(LANGUAGES))
def translator(lang: str) -> NullTranslations:
    """The gettext translations of `lang`; fuzzy entries are left out, as `msgfmt` does,
    so a guessed translation never reaches a customer."""
    check_language(lang)
    if lang == SOURCE_LANGUAGE:
        return NullTranslations()
    buffer = BytesIO()
    write_mo(buffer, load_catalog(lang), use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def gettext_for(lang: str) -> Callable[[str], str]:
    """The `_` function of one language, for code that renders one document at a time."""
    return translator(lang).gettext
