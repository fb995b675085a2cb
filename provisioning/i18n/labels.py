"""What the workflow's stored values are called in front of a person.

The database stores short codes (`configure_later`, `order.map`); customers and operators
read these labels instead, in their language. One table per vocabulary keeps the PDF, the
CLI and the dashboard naming things the same way, and a new state without a label is
caught by the tests rather than shown raw by accident.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import overload

from provisioning.i18n.catalog import check_language, gettext_for
from provisioning.states import (
    ApprovalStatus,
    Decision,
    Intent,
    LinkRole,
    OrderState,
    PartnerRole,
    Role,
    ServiceState,
    WaitingOn,
)


def N_(message: str) -> str:
    """Mark a msgid for extraction without translating it: these tables are built at import
    time, when the reader's language is not known yet."""
    return message


ORDER_STATES: Mapping[str, str] = {
    OrderState.AWAITING_INTENT: N_("Waiting to hear who the order is for"),
    OrderState.DELEGATED: N_("Delegated to someone else"),
    OrderState.AWAITING_ORG: N_("Waiting for an organization"),
    OrderState.AWAITING_APPROVAL: N_("Waiting for the organization's approval"),
    OrderState.ORG_MAPPED: N_("Mapped to an organization"),
    OrderState.COMPLETE: N_("Complete"),
    OrderState.EXPIRED: N_("Expired"),
    OrderState.HISTORY: N_("Decided outside Onboarding Desk"),
}

SERVICE_STATES: Mapping[str, str] = {
    ServiceState.PENDING: N_("Not set up yet"),
    ServiceState.PROVISIONED: N_("Provisioned"),
    ServiceState.CONFIGURE_LATER: N_("Configure later"),
    ServiceState.CUSTOMER_SELF_SETUP: N_("Customer sets up"),
}

INTENTS: Mapping[str, str] = {
    Intent.CUSTOMER: N_("For a customer"),
    Intent.OWN_COMPANY: N_("For the buyer's own company"),
    Intent.DELEGATE: N_("Completed by someone else"),
}

ROLES: Mapping[str, str] = {
    Role.OPERATOR: N_("Operator"),
    Role.MANAGER: N_("Manager"),
    Role.ANALYST: N_("Analyst"),
    Role.PARTNER_ADMIN: N_("Partner administrator"),
    Role.ADMIN: N_("Account administrator"),
}

# Whose move an open order waits for.
WAITING_ON: Mapping[str, str] = {
    WaitingOn.CUSTOMER: N_("The customer"),
    WaitingOn.SUPPORT: N_("Support"),
}

# People who act through an order link from their own e-mail, as the audit trail names them.
LINK_ROLES: Mapping[str, str] = {
    LinkRole.CONTACT: N_("Provisioning contact (e-mail link)"),
    LinkRole.DELEGATE: N_("Delegate (e-mail link)"),
    LinkRole.APPROVER: N_("Organization administrator (e-mail link)"),
}

PARTNER_ROLES: Mapping[str, str] = {
    PartnerRole.PROVISIONING_ADMINISTRATOR: N_("Provisioning Administrator"),
    PartnerRole.FULL_ADMINISTRATOR: N_("Full Administrator"),
}

DECISIONS: Mapping[str, str] = {
    Decision.IMPORTED: N_("Imported from earlier decisions"),
    Decision.ACCEPTED: N_("Recommended organization accepted"),
    Decision.CHOSE_OTHER: N_("Another organization chosen"),
    Decision.CREATED_ORG: N_("New organization created"),
}

APPROVAL_STATUSES: Mapping[str, str] = {
    ApprovalStatus.PENDING: N_("Waiting for approval"),
    ApprovalStatus.APPROVED: N_("Approved"),
    ApprovalStatus.DECLINED: N_("Declined"),
}

# Product names: the same in every language, so not messages.
SERVICES: Mapping[str, str] = {
    "meetings": "Webex Meetings",
    "calling": "Webex Calling",
}

# Where a Meetings site's users are managed; the names of Webex's own admin tools.
USER_MANAGEMENT: Mapping[str, str] = {
    "control_hub": "Control Hub",
    "site_admin": N_("Site Administration"),
}

# The audit verbs of `provisioning.orders` (the history of an order), as past events.
# --- the organization finder's vocabularies (matching/): keyed by their stored strings, so
# this module imports nothing of the finder; tests hold each table to its vocabulary.
# The organization finder's three outcomes, in the seed's own words (workflow.md, step 3).
OUTCOME_SENTENCES: Mapping[str, str] = {
    "exact": N_("Based on your e-mail address, we matched your order with your organization"),
    "domain": N_("We found matching organizations based on your e-mail address"),
    "none": N_("No matching organization found"),
}
OUTCOMES: Mapping[str, str] = {
    "exact": N_("Exact match"),
    "domain": N_("Domain matches"),
    "none": N_("No match"),
}
REVIEWS: Mapping[str, str] = {
    "auto": N_("Confident: can be applied without review"),
    "confirm": N_("Recommended: confirm it"),
    "operator": N_("Ambiguous: an operator decides"),
}
DOMAIN_STATUSES: Mapping[str, str] = {
    "unverified": N_("unverified"),
    "verified": N_("verified"),
    "claimed": N_("claimed"),
}
ORG_STATUSES: Mapping[str, str] = {
    "active": N_("Active"),
    "trial": N_("Running trial"),
    "expired": N_("Expired organization"),
}
# The finder's features (matching/features.py), as an operator reads a reason.
FEATURES: Mapping[str, str] = {
    "exact_email": N_("The provisioning e-mail is a user of this organization"),
    "domain_claimed": N_("The organization claimed the e-mail's domain"),
    "domain_verified": N_("The organization verified the e-mail's domain"),
    "domain_unverified": N_("The organization added the domain but never verified it"),
    "members_only": N_("No domain added, but users on the domain"),
    "subdomain": N_("The e-mail is on a subdomain of the organization's domain"),
    "log_active_members": N_("Number of active users"),
    "domain_member_share": N_("Share of its users on the e-mail's domain"),
    "domain_activity_share": N_("Share of the domain's active users in this organization"),
    "most_active_on_domain": N_("Most active users on the domain"),
    "log_days_silent": N_("Time since any user was active"),
    "status_active": N_("Status: active"),
    "status_trial": N_("Status: running trial"),
    "status_expired": N_("Status: expired"),
    "log_org_age_days": N_("Age of the organization"),
    "name_similarity": N_("Name similar to the company name"),
    "name_exactness": N_("Name equal to the company name"),
    "name_exactness_gap": N_("Name closer to the company name than the other candidates'"),
    "country_match": N_("Same country as the order"),
    "managed_by_partner": N_("Managed by the ordering partner"),
    "is_ordering_partner": N_("Is the ordering partner itself"),
    "partner_own_address": N_("The partner typed an address of its own"),
    "free_mail": N_("The e-mail is on a free mail service"),
    "found_by_name_only": N_("Found by name only"),
    "converts_this_trial": N_("The order converts a trial, and this is a running trial"),
}
# provisioning.rules.INDUSTRY_VERTICALS: stored in English, shown in the reader's language.
INDUSTRIES: Mapping[str, str] = {
    "Transportation": N_("Transportation"),
    "Construction": N_("Construction"),
    "Manufacturing": N_("Manufacturing"),
    "Retail": N_("Retail"),
    "Healthcare": N_("Healthcare"),
    "Education": N_("Education"),
    "Finance": N_("Finance"),
    "Technology": N_("Technology"),
    "Media": N_("Media"),
    "Hospitality": N_("Hospitality"),
    "Public Sector": N_("Public Sector"),
    "Energy": N_("Energy"),
    "Agriculture": N_("Agriculture"),
    "Government": N_("Government"),
    "Insurance": N_("Insurance"),
    "Legal": N_("Legal"),
    "Non-profit": N_("Non-profit"),
    "Professional Services": N_("Professional Services"),
    "Real Estate": N_("Real Estate"),
    "Telecommunications": N_("Telecommunications"),
    "IT Services": N_("IT Services"),
    "Other": N_("Other"),
}
# The queue's count tiles (provisioning.orders.queue.QueuePage.counts), in display order.
QUEUE_COUNTS: Mapping[str, str] = {
    "needs_operator": N_("Need an operator"),
    "needs_confirmation": N_("Need a confirmation"),
    "auto": N_("Confident matches"),
    "unscored": N_("Not scored yet"),
    "delegated": N_("Delegated"),
    "awaiting_approval": N_("Awaiting approval"),
    "setting_up": N_("Setting up services"),
    "at_risk": N_("At risk"),
}

AUDIT_ACTIONS: Mapping[str, str] = {
    "order.intent": N_("Stated who the order is for"),
    "order.delegate": N_("Delegated the order"),
    "order.email_corrected": N_("Corrected the provisioning e-mail"),
    "order.welcome_resent": N_("Sent the welcome e-mail again"),
    "order.map": N_("Mapped the order to an organization"),
    "order.approval_requested": N_("Asked the organization's administrator for approval"),
    "order.approved": N_("Approved adding the order to the organization"),
    "order.declined": N_("Declined adding the order to the organization"),
    "order.create_org": N_("Created a new organization"),
    "order.unmap": N_("Removed the order from its organization"),
    "order.self_setup": N_("Handed the service setup to the customer"),
    "order.meetings": N_("Set up Webex Meetings"),
    "order.calling": N_("Set up Webex Calling"),
    "order.configure_later": N_("Chose to configure a service later"),
    "order.draft_saved": N_("Saved a draft of the service setup"),
    "order.blind_review": N_("Picked an organization in a blind review"),
    "order.at_risk": N_("Warned that the order is close to its deadline"),
    "order.expired": N_("The order expired"),
    "order.complete": N_("All services set up"),
}


@overload
def label(vocabulary: Mapping[str, str], value: str, lang: str) -> str: ...
@overload
def label(vocabulary: Mapping[str, str], value: None, lang: str) -> None: ...
def label(vocabulary: Mapping[str, str], value: str | None, lang: str) -> str | None:
    """The label of `value` in `lang`; a value the table does not know (written by a newer
    version, or imported) is shown raw, because a document that names it is more useful
    than one that fails to render."""
    check_language(lang)
    if value is None:
        return None
    text = vocabulary.get(value)
    return value if text is None else gettext_for(lang)(text)
