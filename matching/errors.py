"""Errors raised by the pure matching core."""

from __future__ import annotations


class MatchingError(Exception):
    """Base of every error the matching core raises."""


class InvalidEmail(MatchingError, ValueError):
    """An address that is not a syntactically valid e-mail address."""


class InvalidDomain(MatchingError, ValueError):
    """A string that is not a usable host name."""
