"""Fixtures of the content tests. Every test that takes `settings` runs twice: on SQLite in a
temporary directory and on a PostgreSQL database made for this test session.

PostgreSQL is expected at 127.0.0.1:5432 (user postgres, trust auth, database `test`). When it
is unreachable the PostgreSQL half is skipped, unless CI is set, where it fails.
"""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.content.app import create_app
from services.content.db import create_tables, make_engine, make_sessions
from services.content.repository import Repository
from services.content.settings import ContentSettings

from .factories import TenantAuth, TenantFactory, wipe_database


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return ""  # the default: <var_dir>/kizuna.db, whose directory does not exist yet
    url: str = request.getfixturevalue("postgres_database")
    return url


@pytest.fixture
async def settings(database_url: str, tmp_path: Path) -> AsyncIterator[ContentSettings]:
    settings = ContentSettings(
        var_dir=tmp_path / "var", database_url=database_url, demo_write_key=None, demo_api_key=None
    )
    yield settings
    if database_url:
        await wipe_database(settings)


@pytest.fixture
async def client(settings: ContentSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The content app over ASGI, with its lifespan (engine, tables) run around the test."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://content") as client:
            yield client


@pytest.fixture
async def repo(settings: ContentSettings) -> AsyncIterator[Repository]:
    engine = make_engine(settings)
    await create_tables(engine)
    async with make_sessions(engine)() as session:
        yield Repository(session)
    await engine.dispose()


@pytest.fixture
def make_tenant(repo: Repository) -> TenantFactory:
    """Tenants have no public create endpoint yet, so tests make them through the repository."""

    async def make(slug: str | None = None, plan: str = "light") -> TenantAuth:
        slug = slug or f"t-{uuid.uuid4().hex[:8]}"
        tenant = await repo.create_tenant(slug, slug.title(), plan)
        issued = await repo.issue_api_key(tenant.id)
        return TenantAuth(id=tenant.id, slug=slug, api_key=issued.key)

    return make
