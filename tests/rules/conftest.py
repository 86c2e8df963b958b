"""Fixtures of the rules tests: every test that takes `sessions` runs on SQLite and on a
PostgreSQL database of its own, each with the schema made by the Alembic migrations."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.rules.db import make_engine, make_sessions, upgrade
from tests.conftest import fresh_postgres_database


@pytest.fixture(params=["sqlite", "postgres"])
async def sessions(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'var' / 'rules.db'}")
        await upgrade(engine)
        yield make_sessions(engine)
        await engine.dispose()
        return
    async with fresh_postgres_database() as url:
        engine = make_engine(url)
        await upgrade(engine)
        yield make_sessions(engine)
        await engine.dispose()
