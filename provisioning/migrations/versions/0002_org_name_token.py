"""Org name token: the global name search becomes an equality look-up.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("orgs", sa.Column("name_token", sa.String(length=64), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        first_word = "left(split_part(name_key, ' ', 1), 64)"
    else:
        first_word = (
            "substr(CASE WHEN instr(name_key, ' ') > 0 "
            "THEN substr(name_key, 1, instr(name_key, ' ') - 1) ELSE name_key END, 1, 64)"
        )
    op.execute(f"UPDATE orgs SET name_token = {first_word}")
    # No NOT NULL: on SQLite that means rebuilding `orgs`, whose DROP would cascade into
    # members and domains with foreign keys on. Every write path fills the column.
    op.create_index(
        "ix_orgs_name_token_country_name_key_org_id",
        "orgs",
        ["name_token", "country", "name_key", "org_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_orgs_name_token_country_name_key_org_id", table_name="orgs")
    with op.batch_alter_table("orgs") as batch:
        batch.drop_column("name_token")
