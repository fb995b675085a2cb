"""Provisioning workflow: mapping time, deadlines, drafts, approvals, partner access,
an outbox claim state, room for long state names in Calling addresses.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from provisioning.models.base import UTCDateTime

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_OUTBOX_STATUS = "status IN ('pending', 'sent', 'failed')"
NEW_OUTBOX_STATUS = "status IN ('pending', 'sending', 'sent', 'failed')"


def upgrade() -> None:
    # Plain ADD COLUMNs: on SQLite a rebuild of `orders` would cascade into its lines.
    op.add_column("orders", sa.Column("mapped_at", UTCDateTime(timezone=True), nullable=True))
    op.add_column("orders", sa.Column("customer_admin_email", sa.String(320), nullable=True))
    op.add_column(
        "orders", sa.Column("at_risk", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column(
        "orders", sa.Column("reminders_sent", sa.Integer(), nullable=False, server_default="0")
    )
    # Orders mapped before this revision took effect when they were decided.
    op.execute(
        "UPDATE orders SET mapped_at = decided_at "
        "WHERE state IN ('org_mapped', 'complete') AND org_id IS NOT NULL"
    )
    op.add_column("order_services", sa.Column("updated_by", sa.String(320), nullable=True))
    op.add_column(
        "order_services", sa.Column("provisioned_at", UTCDateTime(timezone=True), nullable=True)
    )
    op.add_column("order_services", sa.Column("draft", sa.JSON(), nullable=True))

    # Subdivision keys of the address data run to 40 characters ("Dadra and Nagar Haveli…").
    with op.batch_alter_table("calling_locations") as batch:
        batch.alter_column(
            "state_code", type_=sa.String(64), existing_type=sa.String(16), existing_nullable=True
        )

    op.add_column("outbox", sa.Column("claimed_at", UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint(op.f("ck_outbox_status"), type_="check")
        batch.create_check_constraint("status", NEW_OUTBOX_STATUS)

    op.create_table(
        "org_approvals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("org_id", sa.String(64), nullable=False),
        sa.Column("admin_email", sa.String(320), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(320), nullable=False),
        sa.Column("requested_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(320), nullable=True),
        sa.Column("decided_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'declined')", name=op.f("ck_org_approvals_status")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.order_id"], name=op.f("fk_org_approvals_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.org_id"], name=op.f("fk_org_approvals_org_id_orgs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_approvals")),
    )
    op.create_index("ix_org_approvals_org_id", "org_approvals", ["org_id"])
    op.create_index(
        "uq_org_approvals_pending_order",
        "org_approvals",
        ["order_id"],
        unique=True,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )

    op.create_table(
        "partner_access",
        sa.Column("org_id", sa.String(64), nullable=False),
        sa.Column("partner_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("granted_by", sa.String(320), nullable=False),
        sa.Column("granted_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('provisioning_administrator', 'full_administrator')",
            name=op.f("ck_partner_access_role"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.org_id"],
            name=op.f("fk_partner_access_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["orgs.org_id"],
            name=op.f("fk_partner_access_partner_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.order_id"], name=op.f("fk_partner_access_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("org_id", "partner_id", name=op.f("pk_partner_access")),
    )
    op.create_index("ix_partner_access_partner_id", "partner_access", ["partner_id"])


def downgrade() -> None:
    with op.batch_alter_table("calling_locations") as batch:
        batch.alter_column(
            "state_code", type_=sa.String(16), existing_type=sa.String(64), existing_nullable=True
        )
    op.drop_table("partner_access")
    op.drop_table("org_approvals")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint(op.f("ck_outbox_status"), type_="check")
        batch.create_check_constraint("status", OLD_OUTBOX_STATUS)
        batch.drop_column("claimed_at")
    with op.batch_alter_table("order_services") as batch:
        for column in ("draft", "provisioned_at", "updated_by"):
            batch.drop_column(column)
    with op.batch_alter_table("orders") as batch:
        for column in ("reminders_sent", "at_risk", "customer_admin_email", "mapped_at"):
            batch.drop_column(column)
