"""Engine and sessions of the content service, built once from settings."""

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.content.settings import ContentSettings
from shared import sql
from shared.migrations import Migrations

MIGRATIONS = Migrations(Path(__file__).parent / "migrations", "content_alembic_version")


def make_engine(settings: ContentSettings) -> AsyncEngine:
    """An engine on `settings.sql_url()` (see shared.sql.make_engine)."""
    return sql.make_engine(settings.sql_url())


def make_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Rows stay readable after commit, so a route can answer with what it just wrote.
    return async_sessionmaker(engine, expire_on_commit=False)


async def create_tables(engine: AsyncEngine) -> None:
    """Apply the migrations (services/content/migrations, version table
    content_alembic_version). A database made before them, by create_all, holds revision
    0001's tables: it is recorded as at 0001 and migrated on from there."""
    await MIGRATIONS.upgrade(engine, adopt=("tenants", "0001"))
