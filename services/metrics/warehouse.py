"""ClickHouse access for the metrics service, embedded (chDB) or a server over HTTP.

A server is reached with clickhouse-connect's async client (aiohttp): calls run concurrently on
the event loop. chDB has only the synchronous client, and a chDB path belongs to one process, so
there every call runs on one dedicated worker thread, keeping the event loop free; calls are
served in order.
"""

import asyncio
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.asyncclient import AsyncClient
from clickhouse_connect.driver.client import Client

from services.metrics import schema

log = logging.getLogger(__name__)

INSERT_SETTINGS = {
    "date_time_input_format": "best_effort",
    "input_format_skip_unknown_fields": 0,
    "input_format_null_as_default": 1,
    "input_format_defaults_for_omitted_fields": 1,
}


class Warehouse:
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
        self._client: Client | None = None
        self._async: AsyncClient | None = None

    async def open(self) -> None:
        """Connect and apply the schema; raises the driver's error when ClickHouse is not there."""
        if self._dsn.startswith("chdb:"):
            self._client = await self._run(clickhouse_connect.get_client, dsn=self._dsn)
        else:
            # No session: concurrent queries in one ClickHouse session would be refused.
            self._async = await clickhouse_connect.get_async_client(
                dsn=self._dsn, autogenerate_session_id=False
            )
        await self.migrate()
        table, column = schema.REQUIRED_COLUMN
        found = await self.rows(
            "SELECT count() FROM system.columns WHERE database = currentDatabase()"
            " AND table = {table:String} AND name = {column:String}",
            {"table": table, "column": column},
        )
        if found[0][0] == 0:
            # Only warehouses of the first development builds lack it.
            raise RuntimeError(f"the warehouse at {self._dsn} has an older schema: remove it")
        log.info("warehouse_opened", extra={"backend": self._dsn.split(":", 1)[0]})

    async def migrate(self) -> list[int]:
        """Apply the schema's migrations this warehouse has not had; returns their versions."""
        await self.command(schema.SCHEMA_MIGRATIONS)
        done = {v for (v,) in await self.rows("SELECT version FROM schema_migrations FINAL")}
        applied = []
        for migration in schema.MIGRATIONS:
            if migration.version in done:
                continue
            for statement in migration.statements:
                await self.command(statement)
            await self.command(
                "INSERT INTO schema_migrations (version, name) VALUES ({v:UInt32}, {n:String})",
                {"v": migration.version, "n": migration.name},
            )
            applied.append(migration.version)
            log.info("warehouse_migrated", extra={"version": migration.version})
        return applied

    async def close(self) -> None:
        if self._client is not None:
            await self._run(self._client.close)
        if self._async is not None:
            await self._async.close()
        self._executor.shutdown(wait=True)

    async def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> Any:
        if self._async is not None:
            return await self._async.command(sql, parameters=dict(parameters or {}))
        return await self._run(self._require().command, sql, parameters=parameters)

    async def rows(
        self, sql: str, parameters: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        if self._async is not None:
            result = await self._async.query(sql, parameters=dict(parameters or {}))
        else:
            result = await self._run(self._require().query, sql, parameters=parameters)
        return [tuple(row) for row in result.result_rows]

    async def insert_json_rows(
        self, table: str, columns: Sequence[str] | None, block: bytes
    ) -> None:
        """Insert JSON objects, one per line or all in one array; returns once ClickHouse has
        written them. Fields are matched to columns by name (`columns=None`: every column);
        an absent or null field takes the column's default, an unknown one is refused."""
        if self._async is not None:
            await self._async.raw_insert(
                table,
                None if columns is None else list(columns),
                insert_block=block,
                fmt="JSONEachRow",
                settings=INSERT_SETTINGS,
            )
            return
        await self._run(
            self._require().raw_insert,
            table,
            None if columns is None else list(columns),
            insert_block=block,
            fmt="JSONEachRow",
            settings=INSERT_SETTINGS,
        )

    def _require(self) -> Client:
        if self._client is None:
            raise RuntimeError("Warehouse.open() was not awaited")
        return self._client

    async def _run(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: func(*args, **kwargs))
