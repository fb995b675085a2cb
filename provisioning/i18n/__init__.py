"""Languages of the product: English (the source text) and Swedish.

Everything a person reads — the order summary PDF, and later the dashboard — takes its
words from the gettext catalogue here and its dates, numbers and country names from Babel,
so both languages stay complete and consistent in one place.
"""

from __future__ import annotations

from provisioning.i18n.catalog import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    check_language,
    gettext_for,
    load_catalog,
    translator,
)
from provisioning.i18n.formatting import (
    BABEL_LOCALES,
    country_name,
    format_date,
    format_datetime,
    format_number,
    language_name,
)
from provisioning.i18n.labels import (
    APPROVAL_STATUSES,
    AUDIT_ACTIONS,
    DECISIONS,
    DOMAIN_STATUSES,
    FEATURES,
    INDUSTRIES,
    INTENTS,
    LINK_ROLES,
    N_,
    ORDER_STATES,
    ORG_STATUSES,
    OUTCOME_SENTENCES,
    OUTCOMES,
    PARTNER_ROLES,
    QUEUE_COUNTS,
    REVIEWS,
    ROLES,
    SERVICE_STATES,
    SERVICES,
    USER_MANAGEMENT,
    WAITING_ON,
    label,
)

__all__ = [
    "APPROVAL_STATUSES",
    "AUDIT_ACTIONS",
    "BABEL_LOCALES",
    "DECISIONS",
    "DEFAULT_LANGUAGE",
    "DOMAIN_STATUSES",
    "FEATURES",
    "INDUSTRIES",
    "INTENTS",
    "LANGUAGES",
    "LINK_ROLES",
    "N_",
    "ORDER_STATES",
    "ORG_STATUSES",
    "OUTCOMES",
    "OUTCOME_SENTENCES",
    "PARTNER_ROLES",
    "QUEUE_COUNTS",
    "REVIEWS",
    "ROLES",
    "SERVICES",
    "SERVICE_STATES",
    "USER_MANAGEMENT",
    "WAITING_ON",
    "check_language",
    "country_name",
    "format_date",
    "format_datetime",
    "format_number",
    "gettext_for",
    "label",
    "language_name",
    "load_catalog",
    "translator",
]
