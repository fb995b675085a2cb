"""Alembic environment: always run from code with a connection (see `provisioning.db`)."""

from __future__ import annotations

from alembic import context

from provisioning.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only `onboard db upgrade` runs migrations
    raise RuntimeError("run migrations with `onboard db upgrade`, which passes a connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
