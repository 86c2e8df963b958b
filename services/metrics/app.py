"""The metrics service: the events consumer (Kafka → ClickHouse) and the metrics API, in one
process because an embedded chDB path belongs to one process."""

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.metrics.auth import ProductDirectory
from services.metrics.consumer import EventsConsumer
from services.metrics.routes import customers, router
from services.metrics.settings import MetricsSettings
from services.metrics.settle import Settler
from services.metrics.warehouse import Warehouse
from shared import logs
from shared.errors import Unavailable, install_error_handlers

log = logging.getLogger(__name__)


def create_app(settings: MetricsSettings | None = None) -> FastAPI:
    settings = settings or MetricsSettings()
    logs.configure(settings.log_level, service="metrics")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        warehouse = Warehouse(settings.clickhouse_dsn())
        await warehouse.open()
        timeout = httpx.Timeout(settings.dependency_timeout_s)
        async with httpx.AsyncClient(base_url=settings.content_url, timeout=timeout) as client:
            app.state.warehouse = warehouse
            app.state.products = ProductDirectory(client, settings.auth_cache_ttl_s)
            app.state.consumer = None
            app.state.settler = None
            tasks = []
            if settings.consume:
                app.state.consumer = EventsConsumer(settings, warehouse)
                app.state.settler = Settler(
                    warehouse, settings.settle_interval_s, settings.settle_max_rows
                )
                tasks = [
                    _start(app.state.consumer.run(), "events-consumer"),
                    _start(app.state.settler.run(), "settler"),
                ]
            yield
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await warehouse.close()

    app = FastAPI(title="Kizuna metrics", lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(customers)

    @app.get("/healthz")
    async def healthz() -> dict[str, str | int | None]:
        try:
            await app.state.warehouse.rows("SELECT 1")
        except Exception as exc:  # any driver failure means: not healthy
            raise Unavailable("the warehouse does not answer") from exc
        consumer, settler = app.state.consumer, app.state.settler
        return {
            "status": "ok",
            "rows_written": consumer.written if consumer else 0,
            "settle_passes": settler.passes if settler else 0,
            "unsettled_days": settler.unsettled if settler else None,
        }

    return app


def _start(work: Coroutine[None, None, None], name: str) -> "asyncio.Task[None]":
    task = asyncio.create_task(work, name=name)
    task.add_done_callback(_stop_process_if_failed)
    return task


def _stop_process_if_failed(task: "asyncio.Task[None]") -> None:
    """A consumer or settler that died is a crash: stop the process so its supervisor restarts
    it."""
    if task.cancelled() or task.exception() is None:
        return
    log.error("task_crashed", extra={"task": task.get_name()}, exc_info=task.exception())
    os.kill(os.getpid(), signal.SIGTERM)
