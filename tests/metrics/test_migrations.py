"""The warehouse's versioned migrations, on chDB (the same code runs them on a server)."""

import pytest

from services.metrics import schema
from services.metrics.warehouse import Warehouse

pytestmark = pytest.mark.integration


async def test_every_migration_is_recorded_and_none_runs_twice(warehouse: Warehouse) -> None:
    versions = await warehouse.rows("SELECT version FROM schema_migrations FINAL ORDER BY version")

    assert [v for (v,) in versions] == [m.version for m in schema.MIGRATIONS] == [1, 2, 3]
    assert await warehouse.migrate() == []


async def test_a_step_not_recorded_runs_again_over_what_it_made(warehouse: Warehouse) -> None:
    # As after a start-up that stopped between a step's statements and its record.
    await warehouse.command("DELETE FROM schema_migrations WHERE version = 3")

    assert await warehouse.migrate() == [3]
    tables = await warehouse.rows(
        "SELECT count() FROM system.tables WHERE database = currentDatabase()"
        " AND name = 'task_events'"
    )
    assert tables == [(1,)]
