"""Alembic's entry point for the rules service's tables (run by services.rules.db.upgrade)."""

from services.rules.models import Base
from shared.migrations import run_migrations

run_migrations(Base.metadata)
