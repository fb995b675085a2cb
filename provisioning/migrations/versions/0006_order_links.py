"""Order links, sign-in sessions, e-mails in two formats and languages, cancelled e-mails.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 16:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from provisioning.models.base import UTCDateTime

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_OUTBOX_STATUS = "status IN ('pending', 'sending', 'sent', 'failed')"
NEW_OUTBOX_STATUS = "status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')"
LINK_ROLES = "role IN ('contact', 'delegate', 'approver')"


def upgrade() -> None:
    for column in (
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("lang", sa.String(8), nullable=True),
        sa.Column("link_role", sa.String(16), nullable=True),
        sa.Column("approval_id", sa.Integer(), nullable=True),
        sa.Column("cancelled_reason", sa.String(255), nullable=True),
    ):
        op.add_column("outbox", column)
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint(op.f("ck_outbox_status"), type_="check")
        batch.create_check_constraint("status", NEW_OUTBOX_STATUS)

    op.create_table(
        "order_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("approval_id", sa.Integer(), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(255), nullable=True),
        sa.Column("last_used_at", UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(LINK_ROLES, name=op.f("ck_order_links_role")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.order_id"], name=op.f("fk_order_links_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["approval_id"],
            ["org_approvals.id"],
            name=op.f("fk_order_links_approval_id_org_approvals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_order_links_token_hash")),
    )
    op.create_index(op.f("ix_order_links_order_id"), "order_links", ["order_id"])

    op.create_table(
        "link_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_failures")),
    )
    op.create_index(op.f("ix_link_failures_client_at"), "link_failures", ["client", "at"])

    op.create_table(
        "sign_in_sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("account_email", sa.String(320), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("client", sa.String(255), nullable=True),
        sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(255), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_email"],
            ["accounts.email"],
            name=op.f("fk_sign_in_sessions_account_email_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sign_in_sessions_token_hash")),
    )
    op.create_index(
        op.f("ix_sign_in_sessions_account_email"), "sign_in_sessions", ["account_email"]
    )
    op.create_table(
        "app_secrets",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_app_secrets")),
    )


def downgrade() -> None:
    op.drop_table("app_secrets")
    op.drop_table("sign_in_sessions")
    op.drop_table("link_failures")
    op.drop_table("order_links")
    op.execute("UPDATE outbox SET status = 'failed' WHERE status = 'cancelled'")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint(op.f("ck_outbox_status"), type_="check")
        batch.create_check_constraint("status", OLD_OUTBOX_STATUS)
        for column in ("cancelled_reason", "approval_id", "link_role", "lang", "html"):
            batch.drop_column(column)
