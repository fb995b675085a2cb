"""The finder's answer recorded with each decision; when a model version became active.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 01:30:00

With both, the confident band of the model in use can be measured against what
operators decided since it was activated (`provisioning.finder.watch`). Decisions taken
before this revision keep NULL answers: what the finder said then was not kept, and
guessing it now would measure today's model on yesterday's orders.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from provisioning.models.base import UTCDateTime

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REVIEWS = "recommended_review IS NULL OR recommended_review IN ('auto', 'confirm', 'operator')"


def upgrade() -> None:
    # Plain ADD COLUMNs, the CHECK inline with its column: SQLite and PostgreSQL both take
    # that without rebuilding `orders` (a rebuild would drop the table its order lines
    # cascade from).
    op.add_column("orders", sa.Column("recommended_confidence", sa.Float(), nullable=True))
    op.add_column(
        "orders",
        sa.Column(
            "recommended_review",
            sa.String(16),
            sa.CheckConstraint(REVIEWS, name=op.f("ck_orders_recommended_review")),
            nullable=True,
        ),
    )
    op.add_column("orders", sa.Column("recommended_by_model", sa.String(16), nullable=True))
    op.add_column(
        "model_versions",
        sa.Column("activated_at", UTCDateTime(timezone=True), nullable=True),
    )
    # Activation times were not kept before: a version's creation is the best estimate
    # (a trained version is activated as it is stored, or not at all).
    op.execute("UPDATE model_versions SET activated_at = created_at")


def downgrade() -> None:
    op.drop_column("model_versions", "activated_at")
    for column in ("recommended_by_model", "recommended_review", "recommended_confidence"):
        op.drop_column("orders", column)
