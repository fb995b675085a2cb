"""The industry verticals a new organization is created with.

The list is fixed (not free text) so that reports and the matching evidence can group
organizations by industry; a typo would otherwise become an industry of its own.
"""

from __future__ import annotations

from rapidfuzz import process, utils

from provisioning.errors import FieldError, InvalidInput

# Control Hub-like verticals. The first twelve are also what the demo data uses.
INDUSTRY_VERTICALS: tuple[str, ...] = (
    "Transportation",
    "Construction",
    "Manufacturing",
    "Retail",
    "Healthcare",
    "Education",
    "Finance",
    "Technology",
    "Media",
    "Hospitality",
    "Public Sector",
    "Energy",
    "Agriculture",
    "Government",
    "Insurance",
    "Legal",
    "Non-profit",
    "Professional Services",
    "Real Estate",
    "Telecommunications",
    "IT Services",
    "Other",
)


def _fold(value: str) -> str:
    """Case, spaces and punctuation do not matter: "non profit" is "Non-profit"."""
    return "".join(c for c in value.casefold() if c.isalnum())


_BY_FOLDED: dict[str, str] = {_fold(v): v for v in INDUSTRY_VERTICALS}
_SUGGESTIONS = 3


def check_industry(value: str, field: str = "industry") -> FieldError | None:
    """Why `value` is not an industry vertical, or None. Case and punctuation do not matter:
    people type "healthcare" or "non profit", and `canonical_industry` restores the spelling."""
    text = value.strip()
    if not text:
        return FieldError(field, "required")
    if _fold(text) in _BY_FOLDED:
        return None
    closest = process.extract(
        text, INDUSTRY_VERTICALS, processor=utils.default_process, limit=_SUGGESTIONS
    )
    choices = ", ".join(choice for choice, _score, _index in closest)
    return FieldError(
        field,
        f"not an industry vertical; closest choices: {choices} ({len(INDUSTRY_VERTICALS)} in all)",
        value=value,
    )


def canonical_industry(value: str) -> str:
    """The stored spelling of an accepted vertical; raises InvalidInput for any other value,
    so nothing outside the list can reach the database through this function."""
    error = check_industry(value)
    if error is not None:
        raise InvalidInput(error)
    return _BY_FOLDED[_fold(value)]
