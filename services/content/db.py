"""Engine and sessions of the content service, built once from settings."""

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.content.models import Base
from services.content.settings import ContentSettings
from shared import sql


def make_engine(settings: ContentSettings) -> AsyncEngine:
    """An engine on `settings.sql_url()` (see shared.sql.make_engine)."""
    return sql.make_engine(settings.sql_url())


def make_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Rows stay readable after commit, so a route can answer with what it just wrote.
    return async_sessionmaker(engine, expire_on_commit=False)


async def create_tables(engine: AsyncEngine) -> None:
    # TODO(#7): versioned migrations; create_all cannot alter a table that already exists, so
    # any column change needs a migration tool before the first release with real users.
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
