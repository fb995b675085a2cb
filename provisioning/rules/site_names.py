"""Webex Meetings site URL names: the NAME of https://NAME.webex.com.

A site name is a DNS label, so the hard rules are RFC 1035/5891's: ASCII letters, digits
and hyphens, no hyphen at either end, and no "--" in 3rd-4th position (that shape, as in
"xn--", is reserved for internationalised labels). On top of that, our own policy:

- MIN_LENGTH = 3: one- and two-letter names are country codes and abbreviations that
  belong to nobody in particular and are easily mistyped for one another;
- MAX_LENGTH = 40, although a label may have 63: people type and read the URL in
  invitations and meeting links, and a name that long is a whole legal name that a
  shorter one serves better;
- not all digits (it reads as a number, not as a company), and not a reserved name.

Checks never change the name: an upper-case name is refused with "use lower-case letters"
so that what the person sees is what is created. Callers that accept typed input apply
`normalise_site_name` first, visibly.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Set as AbstractSet

from matching.normalize import name_key
from provisioning.errors import FieldError

MIN_LENGTH = 3
MAX_LENGTH = 40

LABEL_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")

# Names that would impersonate Webex or infrastructure, or that are plainly generic.
RESERVED_SITE_NAMES: frozenset[str] = frozenset(
    {
        "abuse",
        "account",
        "accounts",
        "admin",
        "api",
        "app",
        "apps",
        "auth",
        "billing",
        "blog",
        "call",
        "calling",
        "calls",
        "cdn",
        "cisco",
        "demo",
        "dev",
        "dns",
        "docs",
        "email",
        "example",
        "ftp",
        "help",
        "hostmaster",
        "imap",
        "invalid",
        "localhost",
        "login",
        "mail",
        "meet",
        "meeting",
        "meetings",
        "ns1",
        "ns2",
        "oauth",
        "pop",
        "portal",
        "postmaster",
        "prod",
        "root",
        "security",
        "signin",
        "signup",
        "smtp",
        "sso",
        "staging",
        "static",
        "status",
        "support",
        "teams",
        "test",
        "vpn",
        "webex",
        "webmaster",
        "www",
    }
)

# How many times `suggest_site_names` may ask its `taken` callback (one query each).
MAX_TAKEN_LOOKUPS = 3
_SHOWN_BAD_CHARACTERS = 5
# Not str.isalnum/lower: "K" (Kelvin sign) lower-cases to "k" and "²" is a digit to Python.
_ASCII_LABEL_OR_UPPER = frozenset(string.ascii_letters + string.digits + "-")
_ARTICLES = frozenset({"the", "a", "an", "de", "der", "die", "das", "het", "la", "le", "les", "el"})


def normalise_site_name(raw: str) -> str:
    """What a person meant by a typed name: surrounding blanks dropped, lower-cased.

    Only these two, because both are invisible or obviously intended; anything else
    (spaces inside, accents, dots) is reported by `check_site_name` for the person to fix.
    """
    return raw.strip().lower()


def check_site_name(name: str, field: str = "site") -> list[FieldError]:
    """Every reason `name` cannot be a site URL name; [] when it can."""
    if not name:
        return [FieldError(field, "required")]
    reasons: list[str] = []
    if len(name) < MIN_LENGTH:
        reasons.append(f"too short: at least {MIN_LENGTH} characters")
    if len(name) > MAX_LENGTH:
        reasons.append(f"too long: at most {MAX_LENGTH} characters, got {len(name)}")
    if any("A" <= c <= "Z" for c in name):
        reasons.append("use lower-case letters")
    bad = dict.fromkeys(c for c in name if c not in _ASCII_LABEL_OR_UPPER)
    if bad:
        shown = ", ".join(repr(c) for c in list(bad)[:_SHOWN_BAD_CHARACTERS])
        more = " …" if len(bad) > _SHOWN_BAD_CHARACTERS else ""
        reasons.append(f"only letters a-z, digits and hyphens are allowed, not {shown}{more}")
    if name.startswith("-"):
        reasons.append("must not start with a hyphen")
    if name.endswith("-"):
        reasons.append("must not end with a hyphen")
    if name[2:4] == "--":
        reasons.append("must not have '--' as 3rd and 4th characters (kept for punycode)")
    if name.isascii() and name.isdigit():
        reasons.append("must contain a letter, not only digits")
    if name.lower() in RESERVED_SITE_NAMES:
        reasons.append("reserved; choose another name")
    return [FieldError(field, reason, value=name) for reason in reasons]


def is_valid_site_name(name: str) -> bool:
    """True when `check_site_name` has nothing to say."""
    return not check_site_name(name)


def name_label(company_name: str) -> str | None:
    """A DNS label from a company name: "Sjöberg Media AB" -> "sjoberg-media".

    Transliterated and stripped of its legal form by `matching.normalize.name_key`, so the
    label agrees with how the finder sees the name. Whole words are dropped from the end
    until it fits MAX_LENGTH; None when the name has no letters or digits at all.
    """
    return _fit(name_key(company_name).split(), "-")


def suggest_site_names(
    company_name: str,
    taken: Callable[[Sequence[str]], AbstractSet[str]],
    country: str | None = None,
    count: int = 5,
) -> list[str]:
    """Up to `count` free, valid site names for a company, best first.

    `taken` answers, for a batch of candidates, which are already in use; it is called
    with every candidate of a round at once (one database query), at most
    MAX_TAKEN_LOOKUPS times, numbered variants filling up when the obvious names are gone.
    Fewer than `count` come back only when the name has no letters or digits at all, or
    when thousands of numbered variants are taken.
    """
    tokens = name_key(company_name).split()
    if count < 1 or not tokens:
        return []
    region = country.strip().lower() if country else ""
    region = region if re.fullmatch(r"[a-z]{2}", region) else ""
    chosen: list[str] = []
    seen: set[str] = set()
    batches = _candidate_batches(tokens, region, count)
    for _ in range(MAX_TAKEN_LOOKUPS):
        fresh = dict.fromkeys(next(batches))
        batch = [name for name in fresh if name not in seen and is_valid_site_name(name)]
        seen.update(batch)
        if not batch:
            continue
        in_use = taken(batch)
        chosen.extend(name for name in batch if name not in in_use)
        if len(chosen) >= count:
            break
    return chosen[:count]


def _candidate_batches(tokens: list[str], region: str, count: int) -> Iterator[list[str]]:
    """The rounds of candidates: the plain variants and a few numbered ones, then ever
    larger runs of numbered variants (10x per round) for very common names."""
    # "The Foo Company" should not suggest "the": the short form is the first real word.
    words = tokens[1:] if len(tokens) > 1 and tokens[0] in _ARTICLES else tokens
    plain: list[str | None] = [_fit(tokens, "-"), _fit(tokens, ""), _fit(words[:1], "")]
    if region:
        suffix = f"-{region}"
        plain += [_fit(tokens, "-", suffix), _fit(tokens, "", suffix), _fit(words[:1], "", suffix)]
    first = [name for name in plain if name is not None]
    start, size = 2, count
    yield first + _numbered(tokens, start, size)
    while True:
        start, size = start + size, size * 10
        yield _numbered(tokens, start, size)


def _numbered(tokens: list[str], start: int, size: int) -> list[str]:
    """Name-2, name-3, …: each shortened by whole words where its number makes it too long."""
    numbered = (_fit(tokens, "-", f"-{n}") for n in range(start, start + size))
    return [name for name in numbered if name is not None]


def _fit(tokens: list[str], separator: str, suffix: str = "") -> str | None:
    """Join `tokens` and append `suffix`, dropping trailing words (and, for a single
    over-long word, its end) until the result fits MAX_LENGTH."""
    room = MAX_LENGTH - len(suffix)
    words = list(tokens)
    while len(words) > 1 and len(separator.join(words)) > room:
        words.pop()
    base = separator.join(words)[:room].strip("-")
    return f"{base}{suffix}" if base else None
