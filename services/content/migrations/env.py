"""Alembic's entry point for the content service's tables (run by services.content.db)."""

from services.content.models import Base
from shared.migrations import run_migrations

run_migrations(Base.metadata)
