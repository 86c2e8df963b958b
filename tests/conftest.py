import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

REPO = Path(__file__).resolve().parents[1]
XUETANGX = REPO.parent / "shared" / "data" / "xuetangx-kddcup2015-dropout"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def xuetangx_dir() -> Path:
    """The real dataset beside the checkout; tests that need it skip when it is absent."""
    if not (XUETANGX / "usage_daily.csv").exists():
        pytest.skip(f"dataset not found at {XUETANGX}")
    return XUETANGX


POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"


@contextlib.asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str]:
    """A new uniquely named database, as a SQLAlchemy URL; dropped after. Skips when PostgreSQL
    is unreachable, unless CI is set, where it fails."""
    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=3)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        reason = f"PostgreSQL unreachable at {POSTGRES_ADMIN_DSN}: {exc!r}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)

    name = f"kizuna_test_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session")
async def postgres_database() -> AsyncIterator[str]:
    """A fresh database for this session (see fresh_postgres_database)."""
    async with fresh_postgres_database() as url:
        yield url
