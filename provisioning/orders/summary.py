"""The order summary: one read model of everything an order set up, for `orders show`,
the order summary PDF and the dashboard's review step.

Plain frozen dataclasses, so the PDF renderer and the pages never see ORM objects.
`load_summary` (in `provisioning.orders.read`) fills them from the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from provisioning.states import LinkRole


@dataclass(frozen=True, slots=True)
class LicenceLine:
    """One line of the order: the licence change it brings for one service."""

    service: str  # "meetings" | "calling"
    quantity: int
    is_trial_conversion: bool
    is_addon: bool


@dataclass(frozen=True, slots=True)
class SiteSummary:
    name: str  # the site URL name: the site is https://{name}.webex.com
    timezone: str  # IANA name
    early_release: bool
    licences: int
    users_managed_in: str  # "control_hub" | "site_admin"

    @property
    def url(self) -> str:
        return f"https://{self.name}.webex.com"


@dataclass(frozen=True, slots=True)
class LocationSummary:
    name: str
    country: str  # ISO 3166-1 alpha-2
    timezone: str
    preferred_language: str  # e.g. "sv_SE"
    announcement_language: str
    address_line1: str
    address_line2: str | None
    city: str
    postal_code: str
    state_code: str | None
    sip_address: str | None
    is_main: bool = True


@dataclass(frozen=True, slots=True)
class ServiceSummary:
    service: str  # "meetings" | "calling"
    state: str  # provisioning.states.ServiceState value
    licences: int  # total of the order's lines for this service
    trial_conversion: bool  # some line converts a running trial
    addon: bool  # some line is an add-on
    sites: list[SiteSummary] = field(default_factory=list)  # Meetings only
    locations: list[LocationSummary] = field(default_factory=list)  # Calling only
    updated_by: str | None = None
    provisioned_at: datetime | None = None

    @property
    def location(self) -> LocationSummary | None:
        """The main office (HQ) location: the one the order sets up."""
        return next((loc for loc in self.locations if loc.is_main), None)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One audit event of the order: who did what, when."""

    at: datetime
    actor: str
    action: str  # e.g. "order.intent", "order.map", "order.meetings" (provisioning.orders)
    details: dict[str, Any] = field(default_factory=dict)  # the event's "after"
    role: str | None = None  # the role it was done with; contact/delegate/approver: a link

    @property
    def through_link(self) -> bool:
        return self.role in {r.value for r in LinkRole}


@dataclass(frozen=True, slots=True)
class OrderSummary:
    order_id: str
    placed_at: datetime
    state: str  # provisioning.states.OrderState value
    company_name: str
    provisioning_email: str
    country: str | None
    partner_id: str | None
    partner_name: str | None
    intent: str | None  # provisioning.states.Intent value
    delegate_email: str | None
    org_id: str | None
    org_name: str | None
    org_country: str | None
    new_org: bool
    decision: str | None
    decided_by: str | None
    decided_at: datetime | None
    mapped_at: datetime | None
    customer_admin_email: str | None
    partner_role: str | None  # provisioning.states.PartnerRole value, when a partner acted
    lines: list[LicenceLine]
    services: list[ServiceSummary]
    history: list[HistoryEntry]
    generated_at: datetime

    def service(self, name: str) -> ServiceSummary | None:
        return next((s for s in self.services if s.service == name), None)
