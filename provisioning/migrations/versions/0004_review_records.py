"""Review records: the finder's latest answer per waiting order (the queue sorts on it)
and operators' blind picks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 12:47:17.028790
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import provisioning.models.base

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "blind_reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("reviewer", sa.String(length=320), nullable=False),
        sa.Column("chosen_org_id", sa.String(length=64), nullable=True),
        sa.Column("model_org_id", sa.String(length=64), nullable=True),
        sa.Column("model_version", sa.String(length=16), nullable=False),
        sa.Column("model_confidence", sa.Float(), nullable=False),
        sa.Column(
            "created_at", provisioning.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.order_id"],
            name=op.f("fk_blind_reviews_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blind_reviews")),
        sa.UniqueConstraint(
            "order_id", "reviewer", name=op.f("uq_blind_reviews_order_id_reviewer")
        ),
    )
    with op.batch_alter_table("blind_reviews", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_blind_reviews_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "order_matches",
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("model_version", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("recommended_org_id", sa.String(length=64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("p_new_org", sa.Float(), nullable=False),
        sa.Column("review", sa.String(length=16), nullable=False),
        sa.Column("candidates", sa.Integer(), nullable=False),
        sa.Column(
            "computed_at", provisioning.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.order_id"],
            name=op.f("fk_order_matches_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_order_matches")),
    )
    with op.batch_alter_table("order_matches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_matches_review"), ["review"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("order_matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_matches_review"))

    op.drop_table("order_matches")
    with op.batch_alter_table("blind_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blind_reviews_created_at"))

    op.drop_table("blind_reviews")
