"""The message catalogues: gettext `.po` files read and compiled in memory at run time.

Reading the `.po` source directly (with Babel) means there is no build step and no
compiled `.mo` file in the repository that can drift from its source: editing
`locales/<lang>/LC_MESSAGES/messages.po` is the whole change. Compiling costs a few
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


def catalog_file(lang: str) -> Traversable:
    """Where a language's `.po` file lives inside the installed package."""
    return files("provisioning.i18n") / "locales" / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def load_catalog(lang: str) -> Catalog:
    """The parsed `.po` file; tests use it to check every message is translated."""
    check_language(lang)
    with catalog_file(lang).open("rb") as po:
        return read_po(po, locale=lang, domain=DOMAIN)


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
