"""Alembic's entry point for the rules service's tables. services.rules.db.upgrade runs it on
the service's own connection; no alembic.ini is needed."""

from alembic import context

from services.rules.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # Its own version table: the rules service may share a PostgreSQL database with content.
    version_table="rules_alembic_version",
    # SQLite alters a table by copying it; batch mode does that for later migrations.
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
