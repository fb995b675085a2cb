"""Accounts and roles; the audit trail becomes append-only in the database itself.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 15:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import provisioning.models.base

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = "audit events are append-only"

# A trigger, not only revoked privileges: the app may connect as the table's owner, and
# owners (and superusers) keep UPDATE/DELETE whatever is revoked. TRUNCATE has its own
# statement-level trigger on PostgreSQL.
POSTGRES_UP = [
    f"""
    CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{APPEND_ONLY}' USING ERRCODE = 'insufficient_privilege';
    END $$
    """,
    """
    CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()
    """,
    """
    CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()
    """,
]
POSTGRES_DOWN = [
    "DROP TRIGGER audit_events_no_truncate ON audit_events",
    "DROP TRIGGER audit_events_append_only ON audit_events",
    "DROP FUNCTION audit_events_append_only()",
]
SQLITE_UP = [
    f"""
    CREATE TRIGGER audit_events_no_{verb} BEFORE {verb.upper()} ON audit_events
    BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END
    """
    for verb in ("update", "delete")
]
SQLITE_DOWN = [f"DROP TRIGGER audit_events_no_{verb}" for verb in ("update", "delete")]


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column(
            "disabled_at", provisioning.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("failed_sign_ins", sa.Integer(), nullable=False),
        sa.Column(
            "locked_until", provisioning.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "last_sign_in_at", provisioning.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "created_at", provisioning.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.CheckConstraint(
            "(role = 'partner_admin') = (partner_id IS NOT NULL)",
            name=op.f("ck_accounts_partner_admin_partner"),
        ),
        sa.CheckConstraint(
            "role IN ('operator', 'manager', 'analyst', 'partner_admin', 'admin')",
            name=op.f("ck_accounts_role"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["orgs.org_id"],
            name=op.f("fk_accounts_partner_id_orgs"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("email", name=op.f("pk_accounts")),
    )
    for statement in POSTGRES_UP if _postgres() else SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    for statement in POSTGRES_DOWN if _postgres() else SQLITE_DOWN:
        op.execute(statement)
    op.drop_table("accounts")


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"
