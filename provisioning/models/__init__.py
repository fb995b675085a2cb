"""The system of record: one module per aggregate, re-exported here."""

from provisioning.models.accounts import Account
from provisioning.models.base import Base, UTCDateTime, utcnow
from provisioning.models.links import AppSecret, LinkFailure, OrderLink, SignInSession
from provisioning.models.mapping import OrgApproval, PartnerAccess
from provisioning.models.orders import Order, OrderLine, OrderService
from provisioning.models.orgs import Member, Org, OrgDomain
from provisioning.models.records import AuditEvent, ModelVersion, OutboxEmail
from provisioning.models.review import BlindReview, OrderMatch
from provisioning.models.setup import CallingLocation, MeetingsSite

__all__ = [
    "Account",
    "AppSecret",
    "AuditEvent",
    "Base",
    "BlindReview",
    "CallingLocation",
    "LinkFailure",
    "MeetingsSite",
    "Member",
    "ModelVersion",
    "Order",
    "OrderLine",
    "OrderLink",
    "OrderMatch",
    "OrderService",
    "Org",
    "OrgApproval",
    "OrgDomain",
    "OutboxEmail",
    "PartnerAccess",
    "SignInSession",
    "UTCDateTime",
    "utcnow",
]
