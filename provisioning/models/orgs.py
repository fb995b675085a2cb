"""Organizations, the domains they added and their members (the finder's search space)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from matching.normalize import name_key, name_token
from matching.vocabulary import DomainStatus, MemberStatus, OrgStatus
from provisioning.models.base import Base, one_of


class Org(Base):
    """A Webex organization; `partner_id` names the partner org that manages it."""

    __tablename__ = "orgs"

    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    # `matching.normalize.name_key(name)`: the name index the fuzzy search starts from.
    name_key: Mapped[str] = mapped_column(String(255))
    # First word of `name_key`: the global name search is an equality look-up on it
    # (collation-proof on PostgreSQL, unlike a prefix range). Nullable in the schema only
    # so that adding it needs no table rebuild; every write path fills it.
    name_token: Mapped[str | None] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(2))
    industry: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    partner_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("orgs.org_id", ondelete="RESTRICT")
    )

    domains: Mapped[list[OrgDomain]] = relationship(back_populates="org", lazy="raise")

    @validates("name")
    def _index_name(self, _key: str, name: str) -> str:
        """Keep the search keys in step with the name, however the org is created."""
        self.name_key = name_key(name)
        self.name_token = name_token(self.name_key)
        return name

    __table_args__ = (
        CheckConstraint(one_of("status", OrgStatus), name="status"),
        Index(None, "partner_id", "name_key"),
        Index(None, "name_key"),
        Index(None, "country", "name_key"),
        # Covering: the name search reads candidates' keys from the index alone.
        Index(None, "name_token", "country", "name_key", "org_id"),
    )


class OrgDomain(Base):
    """A domain an org added in Control Hub, with how far it proved ownership."""

    __tablename__ = "org_domains"

    org_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("orgs.org_id", ondelete="CASCADE"), primary_key=True
    )
    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    # The registrable domain (public-suffix aware) so `mail.acme.co.uk` meets `acme.co.uk`.
    registrable_domain: Mapped[str] = mapped_column(String(253))
    status: Mapped[str] = mapped_column(String(16))

    org: Mapped[Org] = relationship(back_populates="domains", lazy="raise")

    __table_args__ = (
        CheckConstraint(one_of("status", DomainStatus), name="status"),
        Index(None, "domain"),
        Index(None, "registrable_domain", "org_id"),
    )


class Member(Base):
    """A user of an org; e-mail addresses are unique and stored lower-cased."""

    __tablename__ = "members"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64), ForeignKey("orgs.org_id", ondelete="CASCADE"))
    registrable_domain: Mapped[str] = mapped_column(String(253))
    status: Mapped[str] = mapped_column(String(16))
    last_activity_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint(one_of("status", MemberStatus), name="status"),
        # Covering index: per-org activity summaries are index-only scans.
        Index(None, "org_id", "status", "last_activity_at"),
        # Covering index: "which orgs have members on acme.se, how many active" reads no rows.
        Index(None, "registrable_domain", "org_id", "status", "last_activity_at"),
    )
