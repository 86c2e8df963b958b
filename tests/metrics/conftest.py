from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.metrics.warehouse import Warehouse


@pytest.fixture(scope="session")
async def warehouse(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Warehouse]:
    """A real chDB warehouse with Kizuna's schema. A process may hold one chDB path at a time,
    so the whole test session shares it; tests keep apart by product id."""
    path: Path = tmp_path_factory.mktemp("clickhouse")
    store = Warehouse(f"chdb://{path}")
    await store.open()
    yield store
    await store.close()
