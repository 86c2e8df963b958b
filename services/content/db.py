"""Engine and sessions of the content service, built once from settings."""

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from services.content.models import Base
from services.content.settings import ContentSettings


def make_engine(settings: ContentSettings) -> AsyncEngine:
    """An engine on `settings.sql_url()`; for SQLite, creates the file's directory first."""
    url = make_url(settings.sql_url())
    if url.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True)

    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url)
    event.listen(engine.sync_engine, "connect", _enable_sqlite_foreign_keys)
    return engine


def _enable_sqlite_foreign_keys(dbapi_connection: Any, connection_record: Any) -> None:
    # SQLite ignores foreign keys unless asked, per connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Rows stay readable after commit, so a route can answer with what it just wrote.
    return async_sessionmaker(engine, expire_on_commit=False)


async def create_tables(engine: AsyncEngine) -> None:
    # TODO(#7): versioned migrations; create_all cannot alter a table that already exists, so
    # any column change needs a migration tool before the first release with real users.
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
