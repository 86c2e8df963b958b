"""Engine, sessions and schema of the rules service: its tables are Alembic migrations
(services/rules/migrations, version table rules_alembic_version), applied at start-up."""

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.migrations import Migrations
from shared.sql import make_engine

__all__ = ["MIGRATIONS", "downgrade", "make_engine", "make_sessions", "upgrade"]

MIGRATIONS = Migrations(Path(__file__).parent / "migrations", "rules_alembic_version")


def make_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    await MIGRATIONS.upgrade(engine, revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    await MIGRATIONS.downgrade(engine, revision)
